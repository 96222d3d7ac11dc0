-- wrk script: cycles through the requests listed in the file named by WRK_REQUESTS
-- (one "path<TAB>customer-token" per line) and prints the latency summary as JSON.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(os.getenv("WRK_REQUESTS")) do
    local path, token = line:match("([^\t]+)\t([^\t]+)")
    table.insert(requests, wrk.format("GET", path, {
      ["Authorization"] = "Bearer " .. os.getenv("WRK_SERVICE_KEY"),
      ["X-Customer-Token"] = token,
    }))
  end
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
