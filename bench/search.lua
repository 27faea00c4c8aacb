-- wrk script: POST /search with the benchmark's questions in turn; prints JSON when done.
-- KB_BODIES names a file with one JSON request body per line.
local bodies = {}
for line in io.lines(os.getenv("KB_BODIES")) do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- KB_THINK_MS: each client pauses this long between its requests (an agent reading results);
-- unset, clients send back to back (saturation).
local think = tonumber(os.getenv("KB_THINK_MS") or "0")
if think > 0 then
  delay = function() return think end
end

request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/search", nil, bodies[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "non_2xx": %d, ' ..
    '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
