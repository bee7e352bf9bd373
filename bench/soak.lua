-- bench/soak.lua - wrk script of bench/soak: a fixed cycle of requests that
-- mod_upgrade_required accepts (200) or refuses (426), and a count of what
-- came back.  `-- close` sends every request with "Connection: close" (one
-- request per connection), otherwise connections are persistent.
-- wrk cannot tell which request a response answers when a thread drives
-- several connections, so each response is checked on its own: only 200
-- and 426 are expected, every 426 carries Upgrade and a Connection field
-- listing upgrade, no 200 carries Upgrade.

-- { request line, header lines, Connection tokens when persistent }
local cycle = {
  -- accepted: no policy; TLS proven by the trusted proxy (wrk connects
  -- from 127.0.0.1) through each header; a WebSocket handshake
  { "GET / HTTP/1.1", {}, nil },
  { "GET /tls/ HTTP/1.1", { "X-Forwarded-Proto: https" }, nil },
  { "GET /tls/ HTTP/1.1",
    { "Forwarded: for=192.0.2.1;proto=https, for=127.0.0.1;proto=http" },
    nil },
  { "GET /ws/ HTTP/1.1",
    { "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13" }, "Upgrade" },
  -- refused: plain request to a TLS location; no handshake; wrong
  -- WebSocket version; HTTP/1.0 where HTTP/1.1 is required
  { "GET /tls/ HTTP/1.1", {}, nil },
  { "GET /ws/ HTTP/1.1", {}, nil },
  { "GET /ws/ HTTP/1.1",
    { "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 8" }, "Upgrade" },
  { "GET /h11/ HTTP/1.0", {}, "keep-alive" },
}

local threads = {}
local requests = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  mode = (args[1] == "close") and "close" or "keepalive"
  for i, c in ipairs(cycle) do
    local conn = c[3]
    if mode == "close" then
      conn = (conn == "Upgrade") and "Upgrade, close" or "close"
    end
    local s = c[1] .. "\r\nHost: soak\r\n"
    for _, h in ipairs(c[2]) do s = s .. h .. "\r\n" end
    if conn then s = s .. "Connection: " .. conn .. "\r\n" end
    requests[i] = s .. "\r\n"
  end
  n = 0
  counts = {}
  bad = 0
end

function request()
  n = n + 1
  return requests[(n - 1) % #requests + 1]
end

function response(status, headers, body)
  local k = tostring(status)
  counts[k] = (counts[k] or 0) + 1
  if status == 426 then
    local conn = headers["Connection"] or ""
    if headers["Upgrade"] == nil or not conn:lower():find("upgrade") then
      bad = bad + 1
    end
  elseif headers["Upgrade"] ~= nil then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total, other, badsum, mode = {}, 0, 0, "?"
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do
      total[k] = (total[k] or 0) + v
    end
    badsum = badsum + t:get("bad")
    mode = t:get("mode")
  end
  for k, v in pairs(total) do
    if k ~= "200" and k ~= "426" then other = other + v end
  end
  local e = summary.errors
  io.write(string.format(
    "soak[%s]: requests=%d 200=%d 426=%d other=%d bad_headers=%d " ..
    "connect=%d read=%d write=%d timeout=%d p99_ms=%.1f\n",
    mode, summary.requests, total["200"] or 0, total["426"] or 0, other,
    badsum, e.connect, e.read, e.write, e.timeout,
    latency:percentile(99) / 1000))
end
