-- GET /userinfo with a user's access token.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ACCESS_TOKEN")
