-- A GET with the headers given to wrk with -H (an Authorization or Cookie header); the
-- request is static and responses are not looked at, so wrk runs at full speed.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
