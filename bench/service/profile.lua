-- Lookups of random customers among CUSTOMERS imported ones (ids as clv simulate writes them):
-- their profile, or with SUFFIX=/loyalty their loyalty account (balance, tier, ledger).
function init(args)
  key = os.getenv("CLV_KEY")
  customers = tonumber(os.getenv("CUSTOMERS") or "1000000")
  width = #tostring(customers)
  suffix = os.getenv("SUFFIX") or ""
  math.randomseed(os.time() + (args[1] and tonumber(args[1]) or 0))
end

function request()
  local id = string.format("c%0" .. width .. "d", math.random(1, customers))
  return wrk.format("GET", "/api/v1/customers/" .. id .. suffix, {["Authorization"] = "Bearer " .. key})
end
