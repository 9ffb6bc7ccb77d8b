-- wrk script for bench/load.py: counts responses by status class, finds requests that were
-- never answered, and prints everything on one machine-readable line when wrk is done.
--
-- bench/load.py runs wrk with one connection per thread (-t N -c N), so a thread has at most
-- one request in flight; `pending_since` is when it was sent. wrk itself counts a timeout only
-- when a late response finally arrives, so a request the server never answers before wrk stops
-- would otherwise vanish from the figures.
--
-- Arguments (after `--`): the client timeout in seconds, then an optional delay in ms between
-- requests (for a light probe; 0 or absent means back-to-back requests).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   timeout_s = tonumber(args[1]) or 15
   c2xx, c3xx, c4xx, c5xx, cother = 0, 0, 0, 0, 0
   pending_since = -1  -- os.time() when the request in flight was sent; -1: none in flight
   local delay_ms = tonumber(args[2]) or 0
   if delay_ms > 0 then
      -- wrk looks for a global `delay` after init, so defining it here turns pacing on.
      function delay()
         return delay_ms
      end
   end
end

function request()
   pending_since = os.time()
   return wrk.request()
end

function response(status, headers, body)
   pending_since = -1
   if status >= 200 and status < 300 then
      c2xx = c2xx + 1
   elseif status >= 300 and status < 400 then
      c3xx = c3xx + 1
   elseif status >= 400 and status < 500 then
      c4xx = c4xx + 1
   elseif status >= 500 and status < 600 then
      c5xx = c5xx + 1
   else
      cother = cother + 1
   end
end

function done(summary, latency, requests)
   local totals = {c2xx = 0, c3xx = 0, c4xx = 0, c5xx = 0, cother = 0, in_flight = 0, stuck = 0}
   local now = os.time()
   for _, thread in ipairs(threads) do
      for _, name in ipairs({"c2xx", "c3xx", "c4xx", "c5xx", "cother"}) do
         totals[name] = totals[name] + thread:get(name)
      end
      local since = thread:get("pending_since")
      local limit = thread:get("timeout_s")
      if since >= 0 then
         totals.in_flight = totals.in_flight + 1
         -- os.time() counts whole seconds: close enough against a timeout of several seconds.
         if now - since >= limit then
            totals.stuck = totals.stuck + 1
         end
      end
   end
   local errors = summary.errors
   local in_time = summary.requests - errors.timeout
   local fields = {
      "duration_us=" .. summary.duration,
      "responses=" .. summary.requests,
      "late=" .. errors.timeout,
      "connect_errors=" .. errors.connect,
      "read_errors=" .. errors.read,
      "write_errors=" .. errors.write,
      "in_time=" .. in_time,
      "p50_us=" .. (in_time > 0 and latency:percentile(50) or -1),
      "p95_us=" .. (in_time > 0 and latency:percentile(95) or -1),
      "p99_us=" .. (in_time > 0 and latency:percentile(99) or -1),
      "max_us=" .. (in_time > 0 and latency.max or -1),
   }
   for _, name in ipairs({"c2xx", "c3xx", "c4xx", "c5xx", "cother", "in_flight", "stuck"}) do
      table.insert(fields, name .. "=" .. totals[name])
   end
   io.write("wrk-report " .. table.concat(fields, " ") .. "\n")
end
