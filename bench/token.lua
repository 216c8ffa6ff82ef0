-- POST /token, grant_type=client_credentials, client_secret_basic. RESOURCE adds a resource
-- indicator (oidc-provider needs one to issue JWT access tokens; Gatehouse ignores it).
local auth = os.getenv("BASIC_AUTH")
local body = "grant_type=client_credentials&scope=read"
local resource = os.getenv("RESOURCE")
if resource and resource ~= "" then body = body .. "&resource=" .. resource end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. auth
