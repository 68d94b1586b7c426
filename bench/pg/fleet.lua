-- wrk script: the device request of device.lua, from a fleet of devices in turn.
--
--   wrk ... -s fleet.lua http://127.0.0.1:PORT -- REQUEST_FILE FIRST COUNT
--
-- REQUEST_FILE is bench/server's request (the MAC DE:BA:7A:B1:E0:42 in the STA and AP
-- headers); each request carries instead the MAC of device FIRST + i (i = 0 .. COUNT-1,
-- 5C:CF:7F + the number in 3 bytes, as `updraft sim` numbers its devices), each wrk
-- thread starting at another point of the cycle. With more devices than the server's
-- read cache holds (1024 device rows), checks read device rows from the device memory
-- (once their first check is written) or, without it, from the database.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local wrklib = dofile(here .. "../server/wrklib.lua")
local raw, first, count, i
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  raw = wrklib.request_file(args[1], "fleet.lua")
  assert(raw:find("DE:BA:7A:B1:E0:42", 1, true), "fleet.lua: no MAC to replace")
  first = assert(tonumber(args[2]), "fleet.lua: FIRST missing")
  count = assert(tonumber(args[3]), "fleet.lua: COUNT missing")
  i = ((tid or 0) * 7919) % count
end

function request()
  local n = first + i
  i = (i + 1) % count
  local mac = string.format("5C:CF:7F:%02X:%02X:%02X", math.floor(n / 65536) % 256,
                            math.floor(n / 256) % 256, n % 256)
  return (raw:gsub("DE:BA:7A:B1:E0:42", mac))
end

-- One machine-readable line per run, as device.lua's.
done = wrklib.done
