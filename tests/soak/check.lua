-- wrk script for `make soak`: counts statuses and checks every 200's body length and the
-- plugin's x-random-trap header; done() prints one SOAK-WRK line the soak parses.
-- wrk -s check.lua URL -- EXPECTED_BODY_LENGTH
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected_length = tonumber(args[1])
  statuses = {}
  bad_body = 0
  no_plugin = 0
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    if body == nil or #body ~= expected_length then bad_body = bad_body + 1 end
    if headers["x-random-trap"] ~= "passed" then no_plugin = no_plugin + 1 end
  end
end

function done(summary, latency, requests)
  local all = {}
  local bad, missing = 0, 0
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do all[status] = (all[status] or 0) + n end
    bad = bad + t:get("bad_body")
    missing = missing + t:get("no_plugin")
  end
  local parts = {}
  for status, n in pairs(all) do table.insert(parts, status .. "=" .. n) end
  local e = summary.errors
  io.write(string.format(
    "SOAK-WRK requests=%d bad_body=%d no_plugin=%d connect=%d read=%d write=%d timeout=%d statuses=%s\n",
    summary.requests, bad, missing, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
