--[[
mailjobs: quarantine instead of reject (Rspamd 3.4, milter mode through the rspamd_proxy worker).
Install unedited as /etc/rspamd/plugins.d/mailjobs_quarantine.lua; it is configured (and only
loaded) by the `mailjobs_quarantine { }` section of contrib/rspamd/rspamd.conf.local. README:
"Quarantine".

On every message: X-Quarantine-* headers that came from outside are removed, so nobody can
forge a quarantined message's envelope.
With `quarantine = true`, a message whose action is `reject`:
  - is not rejected: the milter reply says `no_action`, so the proxy accepts it (the action,
    Rspamd's history and statistics still say reject);
  - has its envelope recipients replaced by `mailbox` (milter ADDRCPT + DELRCPT), so Postfix
    delivers it there only, by its usual routing;
  - gets the X-Quarantine-* headers (README "Quarantine").
The verdict is taken by an idempotent rule: those run last, after every filter, and see the
final action. Rspamd 3.4 runs no rule at all after its GTUBE shortcut (the task is "skipped"),
so a message carrying the GTUBE reject string is quarantined earlier, by a connection filter.
]]

local N = 'mailjobs_quarantine'
local rspamd_logger = require 'rspamd_logger'
local lua_util = require 'lua_util'

local opts = rspamd_config:get_all_opt(N) or {}
local mailbox = opts.mailbox
local quarantine = opts.quarantine ~= false
if quarantine and (type(mailbox) ~= 'string' or not mailbox:match('^[^%s<>@,;"]+@[^%s<>@,;"]+$')) then
  -- The safe side: spam keeps being rejected rather than delivered to a wrong address.
  rspamd_logger.errx(rspamd_config, '%s: mailbox "%s" is not an address: spam is rejected, not quarantined',
    N, tostring(mailbox))
  quarantine = false
end

local GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
local PREFIX = 'x-quarantine-'

-- An envelope address as the MTA gave it (`raw`, e.g. "<Alice@Example.org>"): Postfix matches a
-- DELRCPT against the original RCPT TO byte for byte, so case and quoting must be kept.
local function envelope(a)
  if not a or not a.addr or a.addr == '' then return '<>' end
  if type(a.raw) == 'string' and a.raw:match('^<.*>$') then return a.raw end
  return '<' .. a.addr .. '>'
end

-- Names of the X-Quarantine-* headers in the raw header block (the connection filter runs before
-- Rspamd parses the message). 0: every occurrence; the milter matches names case-insensitively.
local function forged_headers(content)
  local stop = math.min(content:find('\r\n\r\n') or content:len(), content:find('\n\n') or content:len())
  local remove, seen = {}, {}
  for name in ('\n' .. content:sub(1, stop):str()):gmatch('\n([^%s:]+)[ \t]*:') do
    local lower = name:lower()
    if lower:sub(1, #PREFIX) == PREFIX and not seen[lower] then
      seen[lower] = true
      remove[name] = 0
    end
  end
  return next(remove) and remove or nil
end

local function symbols_list(task)
  local syms = task:get_symbols_all() or {}
  table.sort(syms, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.name < b.name
  end)
  local parts = {}
  for _, s in ipairs(syms) do parts[#parts + 1] = string.format('%s(%.2f)', s.name, s.score) end
  return table.concat(parts, ', ')
end

-- Adds to `reply` what quarantines the message: recipients replaced, headers, accepted.
local function quarantine_into(reply, task, action, score, symbols)
  local rcpts = task:get_recipients('smtp') or {}
  if #rcpts == 0 then return false end -- not from the milter: no envelope to change
  local target = '<' .. mailbox .. '>'
  local to, del, has_target = {}, {}, false
  for _, r in ipairs(rcpts) do
    to[#to + 1] = { value = envelope(r) }
    if (r.addr or ''):lower() == mailbox:lower() then
      has_target = true -- already a recipient: neither added again nor deleted
    else
      del[#del + 1] = envelope(r)
    end
  end
  reply.add_rcpt = not has_target and { target } or nil
  reply.del_rcpt = #del > 0 and del or nil
  reply.add_headers = {
    ['X-Quarantine-From'] = { value = envelope((task:get_from('smtp') or {})[1]) },
    ['X-Quarantine-To'] = to,
    ['X-Quarantine-Queue-Id'] = { value = task:get_queue_id() or '' },
    ['X-Quarantine-Action'] = { value = action },
    ['X-Quarantine-Score'] = { value = string.format('%.2f/%.2f', score[1] or 0, score[2] or 0) },
    -- Folded at spaces near 78 columns, with LF as the milter wants (Postfix writes CRLF).
    ['X-Quarantine-Symbols'] = { value = lua_util.fold_header(task, 'X-Quarantine-Symbols', symbols) },
    ['X-Quarantine-Date'] = { value = os.date('!%Y-%m-%dT%H:%M:%SZ') },
  }
  reply.no_action = true
  task:cache_set(N, true)
  rspamd_logger.infox(task, '%s: quarantined to %s instead of %s', N, target, action)
  return true
end

local function on_connection(task)
  local content = task:get_content()
  -- no_action is always said: Rspamd 3.4's milter keeps it for the next message of the same
  -- SMTP session otherwise, which would then be accepted whatever its verdict. It also keeps the
  -- reply from being an empty table, which becomes a UCL array that later replies cannot merge into.
  local reply = { remove_headers = forged_headers(content), no_action = false }
  if quarantine and content:find(GTUBE) then
    -- What Rspamd reports for GTUBE: the reject threshold as score, the symbol at 0.
    local required = (task:get_metric_score() or {})[2] or 0
    quarantine_into(reply, task, 'reject', { required, required }, 'GTUBE(0.00)')
  end
  task:set_milter_reply(reply)
end

local function on_verdict(task)
  if not quarantine or task:cache_get(N) then return end
  local action = task:get_metric_action()
  if action ~= 'reject' then return end
  local reply = {}
  if quarantine_into(reply, task, action, task:get_metric_score() or {}, symbols_list(task)) then
    task:set_milter_reply(reply)
  end
end

rspamd_config:register_symbol({
  name = 'MAILJOBS_QUARANTINE_CONNECTION',
  type = 'connfilter',
  flags = 'empty,ignore_passthrough',
  callback = on_connection,
})
rspamd_config:register_symbol({
  name = 'MAILJOBS_QUARANTINE',
  type = 'idempotent',
  flags = 'empty,ignore_passthrough',
  callback = on_verdict,
})
