-- Sign-up with a distinct email per request: BENCH_BODY with {EMAIL} replaced by
-- <run id>-<thread>-<random>-<counter>@bench.example.com. Responses are counted by status.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local counter = 0
local prefix
local template_type = content_type()

function init(args)
   math.randomseed(os.time() + (thread_id or 0) * 7919 + math.floor(os.clock() * 1000000))
   prefix = string.format("%s-%d-%06x", os.getenv("BENCH_RUN_ID") or "run",
                          thread_id or 0, math.random(0, 0xffffff))
end

function request()
   counter = counter + 1
   local email = string.format("%s-%d@bench.example.com", prefix, counter)
   return wrk.format("POST", nil, { ["Content-Type"] = template_type }, body_from_env(email))
end

function response(status, headers, body)
   count_status(status)
end
