-- POST /api/auth/login with the benchmark user's credentials (bearer transport).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_LOGIN_BODY")
