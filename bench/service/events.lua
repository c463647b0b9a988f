-- Order Completed events, each with its own messageId and order id: one bare event a request,
-- or BATCH of them as {"batch": [...]} when BATCH is set.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("CLV_KEY")
  size = tonumber(os.getenv("BATCH") or "0")
  -- Ids differ between the two modes, so a batched run after a single one sends no duplicates.
  prefix = size == 0 and "s" or ("b" .. size .. "-")
end

local function event()
  counter = counter + 1
  local id = prefix .. thread_id .. "-" .. counter
  return string.format(
    '{"type":"track","event":"Order Completed","messageId":"%s","userId":"c%d",' ..
    '"timestamp":"2024-05-01T12:00:00Z","properties":{"order_id":"%s","total":%d.%02d}}',
    id, counter % 50000, id, counter % 300, counter % 100)
end

function request()
  local body
  if size == 0 then
    body = event()
  else
    local events = {}
    for i = 1, size do events[i] = event() end
    body = '{"batch":[' .. table.concat(events, ",") .. ']}'
  end
  return wrk.format("POST", "/api/v1/events",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
