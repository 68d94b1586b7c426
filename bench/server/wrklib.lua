-- What the wrk scripts of bench/ share (bench/server/device.lua, bench/pg/fleet.lua): the
-- request file, read once per thread, and the line a run ends with. A script loads it by
-- its own path, which wrk gives as the chunk's source ("@PATH"):
--
--   local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
--   local wrklib = dofile(here .. "wrklib.lua")
local M = {}

-- The raw bytes of the request file at path, which must hold one whole request (who:
-- the script, for the error).
function M.request_file(path, who)
  local f = assert(io.open(path or "", "rb"), who .. ": request file missing")
  local raw = f:read("*a")
  f:close()
  assert(#raw > 0 and raw:sub(-4) == "\r\n\r\n", who .. ": not a request")
  return raw
end

-- wrk's done(): one machine-readable line per run (bench/server/run.sh and bench/pg/run.py
-- read it).
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d err_write=%d " ..
    "err_status=%d err_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end

return M
