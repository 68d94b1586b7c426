-- wrk script: send the raw bytes of a request file as every request.
--
--   wrk ... -s device.lua http://127.0.0.1:PORT -- REQUEST_FILE
--
-- run.sh writes REQUEST_FILE: the exact ESP8266 update request of
-- shared/spec/esp8266-http-update.md section 8 (HTTP/1.0, Connection: close, the
-- x-ESP8266-* headers in the order the core sends them, Content-Length: 0). wrk's own
-- formatter would send HTTP/1.1 with the headers reordered, so a global request()
-- returns these bytes instead (read once per thread). wrk opens a new connection after
-- each response because the server closes it, as a device does.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local wrklib = dofile(here .. "wrklib.lua")
local raw

function init(args)
  raw = wrklib.request_file(args[1], "device.lua")
end

function request()
  return raw
end

-- One machine-readable line per run for run.sh.
done = wrklib.done
