-- A batch of BATCH Order Completed events per request, every event with its own messageId.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("CLV_KEY")
  size = tonumber(os.getenv("BATCH") or "500")
end

function request()
  local events = {}
  for i = 1, size do
    counter = counter + 1
    local id = thread_id .. "-" .. counter
    events[i] = string.format(
      '{"type":"track","event":"Order Completed","messageId":"b%s","userId":"c%d",' ..
      '"timestamp":"2024-05-01T12:00:00Z","properties":{"order_id":"b%s","total":%d.%02d}}',
      id, counter % 50000, id, counter % 300, counter % 100)
  end
  return wrk.format("POST", "/api/v1/events",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"},
    '{"batch":[' .. table.concat(events, ",") .. ']}')
end
