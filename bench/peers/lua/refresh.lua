-- POST /api/auth/refresh, each request with a refresh token never used before.
-- BENCH_TOKENS is a file of refresh tokens, one per line, from separate sessions. The script
-- walks through them in order; every 200 answer carries the next token of its session (the
-- old one is dead), which joins the end of the queue, so a run longer than the file still
-- presents each token exactly once. If the queue ever runs dry (only when answers fail), the
-- request carries a token that cannot exist and is counted as "exhausted".
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local queue, head, tail = {}, 1, 0

function init(args)
   local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local index = 0
   for line in io.lines(os.getenv("BENCH_TOKENS")) do
      if line ~= "" then
         -- Each wrk thread takes its own share of the file.
         if index % threads == (thread_id or 0) then
            tail = tail + 1
            queue[tail] = line
         end
         index = index + 1
      end
   end
end

function request()
   local token
   if head <= tail then
      token = queue[head]
      queue[head] = nil
      head = head + 1
   else
      count("exhausted")
      token = "exhausted-exhausted-exhausted-exhausted-xx"
   end
   return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
                     '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
   count_status(status)
   if status == 200 then
      local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if token then
         tail = tail + 1
         queue[tail] = token
      else
         count("no_token_in_answer")
      end
   end
end
