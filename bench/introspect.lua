-- POST /introspect of one access token, authenticated with client_secret_basic.
wrk.method = "POST"
wrk.body = "token=" .. os.getenv("ACCESS_TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC_AUTH")
