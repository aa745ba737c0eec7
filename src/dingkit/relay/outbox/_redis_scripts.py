"""The Lua scripts behind :class:`~dingkit.relay.outbox.redis.RedisOutbox`: one per change,
each atomic (Redis runs a script alone). The layout they keep is described in ``redis.py``.

Every script gets the key prefix as ``ARGV[1]`` and builds its keys from it (the robots an
letter moves between are only known inside the script), so the outbox needs a single
Redis, not a Cluster. Times arrive as Python's ``repr`` of a float and are stored as given:
nothing is rounded on the way. Every script is safe to run twice (the client retries once
after a dropped connection): settling skips what is gone, ``put`` and ``merge`` skip ids
they already hold.
"""

from __future__ import annotations

from .base import KEPT

__all__ = ["SCRIPTS"]

_PRELUDE = """
local p = ARGV[1]
local GROUP = 'relay'
local function letter(id) return p .. 'e:' .. id end
local function queue(robot) return p .. 'q:' .. robot end
local function pending(robot) return p .. 'pending:' .. robot end

-- Whether id is in the outbox: stored, and not a dead letter.
local function present(id)
  return redis.call('HEXISTS', letter(id), 'robot') == 1
    and redis.call('HEXISTS', letter(id), 'dead_at') == 0
end

-- To the end of robot's queue (its stream, made with its group on first use).
local function enqueue(id, robot)
  local q = queue(robot)
  if redis.call('EXISTS', q) == 0 then
    redis.call('XGROUP', 'CREATE', q, GROUP, '0', 'MKSTREAM')
    redis.call('SADD', p .. 'robots', robot)
  end
  local entry = redis.call('XADD', q, '*', 'id', id)
  redis.call('HSET', letter(id), 'robot', robot, 'entry', entry)
end

-- Out of its robot's queue: acknowledged, deleted, no longer pending.
local function unqueue(id)
  local robot, entry = unpack(redis.call('HMGET', letter(id), 'robot', 'entry'))
  if entry and entry ~= '' then
    redis.call('XACK', queue(robot), GROUP, entry)
    redis.call('XDEL', queue(robot), entry)
    redis.call('HSET', letter(id), 'entry', '')
  end
  redis.call('ZREM', pending(robot), id)
end

-- Up to count new entries of robot's queue, read into the group's PEL: their letter ids.
local function read_new(robot, consumer, count)
  local reply = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count,
    'STREAMS', queue(robot), '>')
  local ids = {}
  if reply then
    for _, item in ipairs(reply[1][2]) do ids[#ids + 1] = item[2][2] end
  end
  return ids
end

local function fields(id)
  return redis.call('HMGET', letter(id), 'body', 'robot', 'attempts', 'not_before',
    'last_error', 'claimed')
end

-- A settled letter for the page, newest first, the newest KEPT kept. answer arrives
-- JSON-encoded and at as text, so the record is built without rounding either.
local function record(id, robot, route, outcome, answer, at, merged)
  local item = '{"id":' .. cjson.encode(id) .. ',"robot":' .. cjson.encode(robot)
    .. ',"route":' .. cjson.encode(route) .. ',"outcome":"' .. outcome .. '","answer":'
    .. answer .. ',"at":' .. at .. ',"merged":' .. merged .. '}'
  redis.call('LPUSH', p .. 'deliveries', item)
  redis.call('LTRIM', p .. 'deliveries', 0, @KEPT@ - 1)
end
"""

# ARGV: prefix, forget_at (the key is remembered till then), dedup key, now (keys remembered
# till then or before are forgotten), has key,
# then 8 per letter: id, robot, route, body, attempts, not_before, last_error (JSON), thread.
_PUT = """
local forget_at, key = ARGV[2], ARGV[3]
if ARGV[5] == '1' then
  redis.call('ZREMRANGEBYSCORE', p .. 'dedup', '-inf', ARGV[4])
  if redis.call('ZSCORE', p .. 'dedup', key) then return 0 end
  redis.call('ZADD', p .. 'dedup', forget_at, key)
end
for i = 6, #ARGV, 8 do
  local id, thread = ARGV[i], ARGV[i + 7]
  if redis.call('EXISTS', letter(id)) == 0 then
    redis.call('HSET', letter(id), 'route', ARGV[i + 2], 'body', ARGV[i + 3],
      'attempts', ARGV[i + 4], 'not_before', ARGV[i + 5], 'last_error', ARGV[i + 6],
      'carries', 1)
    enqueue(id, ARGV[i + 1])
    if thread ~= '' then
      -- The thread's letters, for supersede; gone letters are dropped from it lazily, and
      -- a thread nobody resolves expires a week after its last letter.
      redis.call('SADD', p .. 'thread:' .. thread, id)
      redis.call('EXPIRE', p .. 'thread:' .. thread, 604800)
    end
  end
end
return 1
"""

# ARGV: prefix, robot, now, lease end, limit, consumer, idle ms. Returns the claimed
# letters' fields. What a lease or a retry's wait has let go of comes first (it is in the
# PEL, so older than anything unread), then new entries in the queue's order. A claim that
# finds nothing also forgets consumers that hold nothing and have been idle for the given
# milliseconds (instances gone for good: every restart is a new consumer); a live one
# forgotten is made again by its next read.
_CLAIM = """
local robot, now, lease_end = ARGV[2], ARGV[3], ARGV[4]
local limit, consumer, idle_ms = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if redis.call('EXISTS', queue(robot)) == 0 then return {} end
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', pending(robot), '-inf', now, 'LIMIT', 0, limit)) do
  local entry = redis.call('HGET', letter(id), 'entry')
  redis.call('XCLAIM', queue(robot), GROUP, consumer, 0, entry)  -- counts a delivery
  taken[#taken + 1] = id
end
while #taken < limit do
  local ids = read_new(robot, consumer, limit - #taken)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local not_before = redis.call('HGET', letter(id), 'not_before')
    if tonumber(not_before) > tonumber(now) then
      redis.call('ZADD', pending(robot), not_before, id)  -- parked in the PEL until then
    else
      taken[#taken + 1] = id
    end
  end
end
local out = {}
for _, id in ipairs(taken) do
  redis.call('ZADD', pending(robot), lease_end, id)
  out[#out + 1] = fields(id)  -- its 'claimed' as it was: '1' when a claim ran out
  redis.call('HSET', letter(id), 'claimed', '1')
end
if #taken == 0 then
  for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', queue(robot), GROUP)) do
    local seen = {}
    for i = 1, #info, 2 do seen[info[i]] = info[i + 1] end
    if seen['pending'] == 0 and seen['idle'] >= idle_ms then
      redis.call('XGROUP', 'DELCONSUMER', queue(robot), GROUP, seen['name'])
    end
  end
end
return out
"""

# ARGV: prefix, now, answer (JSON), ids...
_DELIVERED = """
local first, carried = nil, 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if present(id) then
    local robot, route, carries = unpack(redis.call('HMGET', letter(id), 'robot', 'route',
      'carries'))
    first = first or {id, robot, route}
    carried = carried + tonumber(carries)
    unqueue(id)
    redis.call('DEL', letter(id))
  end
end
if first then record(first[1], first[2], first[3], 'delivered', ARGV[3], ARGV[2], carried) end
return 1
"""

# ARGV: prefix, now, error (JSON), id, not_before. A claimed one stays in the PEL, due again
# at not_before.
_RETRY = """
local id, not_before = ARGV[4], ARGV[5]
if not present(id) then return 0 end
local robot, route, carries = unpack(redis.call('HMGET', letter(id), 'robot', 'route',
  'carries'))
redis.call('HINCRBY', letter(id), 'attempts', 1)
redis.call('HSET', letter(id), 'not_before', not_before, 'last_error', ARGV[3], 'claimed', '0')
if redis.call('ZSCORE', pending(robot), id) then
  redis.call('ZADD', pending(robot), not_before, id)
end
record(id, robot, route, 'retry', ARGV[3], ARGV[2], carries)
return 1
"""

# ARGV: prefix, now, error (JSON), id
_DEAD = """
local id = ARGV[4]
if not present(id) then return 0 end
local robot, route, carries = unpack(redis.call('HMGET', letter(id), 'robot', 'route',
  'carries'))
unqueue(id)
redis.call('HINCRBY', letter(id), 'attempts', 1)
redis.call('HSET', letter(id), 'last_error', ARGV[3], 'dead_at', ARGV[2])
redis.call('ZADD', p .. 'dead', ARGV[2], id)
record(id, robot, route, 'dead', ARGV[3], ARGV[2], carries)
return 1
"""

# ARGV: prefix, ids...
_RELEASE = """
for i = 2, #ARGV do
  local id = ARGV[i]
  if present(id) then
    local robot = redis.call('HGET', letter(id), 'robot')
    if redis.call('ZSCORE', pending(robot), id) then redis.call('ZADD', pending(robot), 0, id) end
    redis.call('HSET', letter(id), 'claimed', '0')
  end
end
return 1
"""

# ARGV: prefix, now, answer (JSON), robot, ids...
_REASSIGN = """
local first, moved = nil, 0
for i = 5, #ARGV do
  local id = ARGV[i]
  if present(id) then
    local robot, route = unpack(redis.call('HMGET', letter(id), 'robot', 'route'))
    first = first or {id, robot, route}
    moved = moved + 1
    unqueue(id)
    redis.call('HSET', letter(id), 'not_before', 0, 'claimed', '0')
    enqueue(id, ARGV[4])
  end
end
if first then record(first[1], first[2], first[3], 'reassigned', ARGV[3], ARGV[2], moved) end
return 1
"""

# ARGV: prefix, now, answer (JSON), lease end, consumer, the digest's 8 (as for put),
# then the ids it replaces. The digest is stored claimed, i.e. in the PEL: it is read there
# with whatever was queued before it, and those keep their times in the pending set (0, or
# a not_before still ahead), which makes them exactly as due as they were unread.
_MERGE = """
local lease_end, consumer = ARGV[4], ARGV[5]
local id, robot, route = ARGV[6], ARGV[7], ARGV[8]
local carried, merged = 0, 0
for i = 14, #ARGV do
  local original = ARGV[i]
  if present(original) and original ~= id then
    carried = carried + tonumber(redis.call('HGET', letter(original), 'carries'))
    merged = merged + 1
    unqueue(original)
    redis.call('DEL', letter(original))
  end
end
if redis.call('EXISTS', letter(id)) == 0 then
  redis.call('HSET', letter(id), 'route', route, 'body', ARGV[9], 'attempts', ARGV[10],
    'not_before', ARGV[11], 'last_error', ARGV[12], 'carries', math.max(carried, 1),
    'claimed', '1')
  enqueue(id, robot)
  local found = false
  while not found do
    local ids = read_new(robot, consumer, 100)
    if #ids == 0 then break end
    for _, other in ipairs(ids) do
      if other == id then
        found = true
      else
        redis.call('ZADD', pending(robot), redis.call('HGET', letter(other), 'not_before'),
          other)
      end
    end
  end
  redis.call('ZADD', pending(robot), lease_end, id)
end
record(id, robot, route, 'merged', ARGV[3], ARGV[2], merged)
return 1
"""

# ARGV: prefix, id
_REPLAY = """
local id = ARGV[2]
if not redis.call('ZSCORE', p .. 'dead', id) then return 0 end
redis.call('ZREM', p .. 'dead', id)
redis.call('HDEL', letter(id), 'dead_at')
redis.call('HSET', letter(id), 'attempts', 0, 'not_before', 0, 'claimed', '0')
enqueue(id, redis.call('HGET', letter(id), 'robot'))
return 1
"""

# ARGV: prefix, now. Per robot: name, backlog (the stream holds exactly what is neither
# delivered nor dead), due (unread entries, and pending ones whose time has come).
_COUNTS = """
local out = {}
for _, robot in ipairs(redis.call('SMEMBERS', p .. 'robots')) do
  local total = redis.call('XLEN', queue(robot))
  local waiting = redis.call('ZCARD', pending(robot))
  local again = redis.call('ZCOUNT', pending(robot), '-inf', ARGV[2])
  out[#out + 1] = robot
  out[#out + 1] = total
  out[#out + 1] = total - waiting + again
end
return out
"""

# ARGV: prefix, limit. Newest first (by when they died, then id).
_DEAD_LETTERS = """
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', p .. 'dead', 0, tonumber(ARGV[2]) - 1)) do
  out[#out + 1] = fields(id)
end
return out
"""

# ARGV: prefix, now, answer (JSON), robot, thread, number of keep ids, keep ids...,
# covered fingerprints... Reads the thread's letters (a set kept by put), not the queue.
_SUPERSEDE = """
local now, answer, robot, thread = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nkeep = tonumber(ARGV[6])
local keep, covered, oldest_kept = {}, {}, nil
for i = 7, 6 + nkeep do
  keep[ARGV[i]] = true
  if oldest_kept == nil or ARGV[i] < oldest_kept then oldest_kept = ARGV[i] end
end
for i = 7 + nkeep, #ARGV do covered[ARGV[i]] = true end
local dropped = 0
local members = p .. 'thread:' .. thread
local ids = {}
for _, id in ipairs(redis.call('SMEMBERS', members)) do
  if present(id) then ids[#ids + 1] = id else redis.call('SREM', members, id) end
end
table.sort(ids)  -- oldest first, as SQLite goes
for _, id in ipairs(ids) do
  local claimed = redis.call('HGET', letter(id), 'claimed')
  local lease_until = redis.call('ZSCORE', pending(robot), id)
  local busy = claimed == '1' and lease_until and tonumber(lease_until) > tonumber(now)
  local newer = oldest_kept ~= nil and id >= oldest_kept
  local theirs = redis.call('HGET', letter(id), 'robot') == robot
  if theirs and not keep[id] and not newer and not busy then
    local body = cjson.decode(redis.call('HGET', letter(id), 'body'))
    local alerts = body['notification'] and body['notification']['alerts']
    local again = body['thread'] == thread and type(alerts) == 'table' and #alerts > 0
    if again then
      for _, alert in ipairs(alerts) do
        if type(alert) ~= 'table' or not covered[alert['fingerprint']] then again = false end
      end
    end
    if again then
      local route, carries = unpack(redis.call('HMGET', letter(id), 'route', 'carries'))
      unqueue(id)
      redis.call('DEL', letter(id))
      redis.call('SREM', members, id)
      record(id, robot, route, 'superseded', answer, now, carries)
      dropped = dropped + 1
    end
  end
end
return dropped
"""

SCRIPTS = {
    name: _PRELUDE.replace("@KEPT@", str(KEPT)) + body
    for name, body in {
        "put": _PUT,
        "claim": _CLAIM,
        "delivered": _DELIVERED,
        "retry": _RETRY,
        "dead": _DEAD,
        "release": _RELEASE,
        "reassign": _REASSIGN,
        "merge": _MERGE,
        "replay": _REPLAY,
        "counts": _COUNTS,
        "dead_letters": _DEAD_LETTERS,
        "supersede": _SUPERSEDE,
    }.items()
}
