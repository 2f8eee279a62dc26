package paginate

import "github.com/redcache/redcache/conn"

// Every script takes KEYS[1] = the pointer key and ARGV[1] = the list's
// base (<prefix>:{<name>}); the version keys it derives share the
// pointer's hash tag, so they live in the pointer's slot. A script
// returns nil (ErrMiss) when the pointer is gone.
const luaPrologue = `
local p = redis.call('GET', KEYS[1])
if not p then return false end
local ver = string.sub(p, 1, 16)
local z = ARGV[1] .. ':' .. ver .. ':z'
local h = ARGV[1] .. ':' .. ver .. ':h'
`

// luaFetch returns the ids and scores of a WITHSCORES reply and the items
// of those ids, by HMGET in slices that stay under Lua's unpack limit.
const luaFetch = `
local function fetch(r)
  local ids, scores, vals = {}, {}, {}
  for i = 1, #r, 2 do
    ids[#ids + 1] = r[i]
    scores[#scores + 1] = r[i + 1]
  end
  for i = 1, #ids, 1000 do
    local part = redis.call('HMGET', h, unpack(ids, i, math.min(i + 999, #ids)))
    for k = 1, #part do vals[#vals + 1] = part[k] end
  end
  return ids, scores, vals
end
`

// readScript reads one page in one round trip. ARGV[2] is the version
// the caller expects ("" for any: a cursor names its version, and a page
// of another version is not its continuation); ARGV[3] the mode:
//
//	rank  start stop rev            ZRANGE by rank, O(log N + M)
//	score min max offset count rev  ZRANGE BYSCORE, O(log N + offset + M)
//	after score member count rev    the items after (score, member) in the
//	                                list's order, O(log N + M + ties)
//
// It replies {pointer, total, ids, scores, items}, or {pointer} when the
// version is not the expected one.
var readScript = conn.NewScript(luaPrologue + luaFetch + `
if ARGV[2] ~= '' and ARGV[2] ~= ver then return {p} end
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local total = redis.call('ZCARD', z)
local mode, r = ARGV[3], nil
if mode == 'rank' then
  if ARGV[6] == '1' then
    r = redis.call('ZRANGE', z, ARGV[4], ARGV[5], 'REV', 'WITHSCORES')
  else
    r = redis.call('ZRANGE', z, ARGV[4], ARGV[5], 'WITHSCORES')
  end
elseif mode == 'score' then
  if ARGV[8] == '1' then
    r = redis.call('ZRANGE', z, ARGV[5], ARGV[4], 'BYSCORE', 'REV', 'LIMIT', ARGV[6], ARGV[7], 'WITHSCORES')
  else
    r = redis.call('ZRANGE', z, ARGV[4], ARGV[5], 'BYSCORE', 'LIMIT', ARGV[6], ARGV[7], 'WITHSCORES')
  end
else
  local s, m, n, rev = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1'
  local start
  local cur = redis.call('ZSCORE', z, m)
  if cur and tonumber(cur) == tonumber(s) then
    if rev then start = redis.call('ZREVRANK', z, m) + 1 else start = redis.call('ZRANK', z, m) + 1 end
  else
    -- the member moved or left: count what precedes (s, m) in the order
    local ties = redis.call('ZRANGE', z, s, s, 'BYSCORE')
    if rev then
      start = redis.call('ZCOUNT', z, '(' .. s, '+inf')
      for i = 1, #ties do if not less(ties[i], m) then start = start + 1 end end
    else
      start = redis.call('ZCOUNT', z, '-inf', '(' .. s)
      for i = 1, #ties do if not less(m, ties[i]) then start = start + 1 end end
    end
  end
  if rev then
    r = redis.call('ZRANGE', z, start, start + n - 1, 'REV', 'WITHSCORES')
  else
    r = redis.call('ZRANGE', z, start, start + n - 1, 'WITHSCORES')
  end
end
local ids, scores, vals = fetch(r)
return {p, total, ids, scores, vals}
`)

// luaKeepTTL gives the version keys the pointer's remaining time to live
// after a write that may have created them (the first item of an empty
// list), so that they never outlive it.
const luaKeepTTL = `
local function keepTTL()
  local t = redis.call('PTTL', KEYS[1])
  if t > 0 then
    redis.call('PEXPIRE', z, t)
    redis.call('PEXPIRE', h, t)
  end
end
`

// writeScript changes the current version in place, O(log N) per item.
// ARGV[2] is the operation:
//
//	append  id item ...        at the end (a present id moves there)
//	prepend id item ...        at the front
//	add     id score item ...  with a score (a present id is updated)
//	score   id score           a present id's score; replies 1 or 0
//	remove  id ...             replies how many were there
//
// append, prepend and add reply the new length.
var writeScript = conn.NewScript(luaPrologue + luaKeepTTL + `
local op = ARGV[2]
if op == 'append' or op == 'prepend' then
  for i = 3, #ARGV, 2 do
    local sc = 0
    if op == 'append' then
      local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
      if #last > 0 then sc = tonumber(last[2]) + 1 end
    else
      local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
      if #first > 0 then sc = tonumber(first[2]) - 1 end
    end
    redis.call('ZADD', z, string.format('%.17g', sc), ARGV[i])
    redis.call('HSET', h, ARGV[i], ARGV[i + 1])
  end
elseif op == 'add' then
  for i = 3, #ARGV, 3 do
    redis.call('ZADD', z, ARGV[i + 1], ARGV[i])
    redis.call('HSET', h, ARGV[i], ARGV[i + 2])
  end
elseif op == 'score' then
  if not redis.call('ZSCORE', z, ARGV[3]) then return 0 end
  redis.call('ZADD', z, 'XX', ARGV[4], ARGV[3])
  return 1
elseif op == 'remove' then
  local n = 0
  for i = 3, #ARGV do
    n = n + redis.call('ZREM', z, ARGV[i])
    redis.call('HDEL', h, ARGV[i])
  end
  return n
else
  return redis.error_reply('ERR paginate: unknown operation ' .. op)
end
keepTTL()
return redis.call('ZCARD', z)
`)

// lenScript replies the current version's length.
var lenScript = conn.NewScript(luaPrologue + `return redis.call('ZCARD', z)`)

// switchScript makes a version built by Replace the current one, if it
// reached Redis whole: ARGV[2] is the new pointer, ARGV[3] the ttl in
// milliseconds (0: none), ARGV[4] the number of items. The old version is
// unlinked (freed in the background), so a reader, whose whole page is one
// script, sees the old list or the new one, never a mix or a gap.
var switchScript = conn.NewScript(`
local ver = string.sub(ARGV[2], 1, 16)
local z = ARGV[1] .. ':' .. ver .. ':z'
local h = ARGV[1] .. ':' .. ver .. ':h'
local n = tonumber(ARGV[4])
if redis.call('ZCARD', z) ~= n or redis.call('HLEN', h) ~= n then
  redis.call('UNLINK', z, h)
  return redis.error_reply('PAGINATEINCOMPLETE the new version does not hold every item')
end
local old = redis.call('GET', KEYS[1])
local t = tonumber(ARGV[3])
if t > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', t)
  redis.call('PEXPIRE', z, t)
  redis.call('PEXPIRE', h, t)
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('PERSIST', z)
  redis.call('PERSIST', h)
end
if old then
  local ov = string.sub(old, 1, 16)
  if ov ~= ver then
    redis.call('UNLINK', ARGV[1] .. ':' .. ov .. ':z', ARGV[1] .. ':' .. ov .. ':h')
  end
end
return 1
`)

// deleteScript drops the list: pointer and current version.
var deleteScript = conn.NewScript(luaPrologue + `
redis.call('UNLINK', KEYS[1], z, h)
return 1
`)
