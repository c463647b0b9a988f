-- One Order Completed event per request, each with its own messageId and order id.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("CLV_KEY")
end

function request()
  counter = counter + 1
  local id = thread_id .. "-" .. counter
  local body = string.format(
    '{"type":"track","event":"Order Completed","messageId":"s%s","userId":"c%d",' ..
    '"timestamp":"2024-05-01T12:00:00Z","properties":{"order_id":"s%s","total":%d.%02d}}',
    id, counter % 50000, id, counter % 300, counter % 100)
  return wrk.format("POST", "/api/v1/events",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
