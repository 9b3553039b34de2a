-- A static POST of BENCH_BODY (Content-Type BENCH_CONTENT_TYPE, default JSON): sign-in with
-- the right password, a wrong one or an unknown account. Responses are counted by status.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = content_type()
wrk.body = body_from_env(nil)

function response(status, headers, body)
   count_status(status)
end
