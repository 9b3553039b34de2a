-- GET /api/admin/users?q=… cycling through the searches named by the SEARCHES environment
-- variable (comma-separated, already URL-encoded); the admin token comes in a -H header.
local searches = {}
for q in string.gmatch(os.getenv("SEARCHES") or "", "[^,]+") do
    table.insert(searches, q)
end
local i = 0

request = function()
    i = i + 1
    return wrk.format("GET", "/api/admin/users?q=" .. searches[(i % #searches) + 1])
end
