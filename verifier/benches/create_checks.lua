-- wrk script: POST /liveness_check with the key in LIVECHECK_KEY (see load.sh).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LIVECHECK_KEY")
wrk.body = '{"return_url":"https://customer.example/done","challenges":["BLINK","SMILE"],"user_id":"load"}'

local statuses = {}
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f  p50: %.2f ms  p99: %.2f ms\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
