-- Helpers for the heloguard miltertest scripts; loaded with dofile(), never run on its own.
-- The runner (scripts/e2e/miltertest-run) defines these globals with -D:
--   socket   the milter socket heloguard listens on (unix:/path)
--   log      the file heloguard's --foreground log goes to

-- The same identity for every session: the MTA's name and address, as Postfix sends them at
-- connect (heloguard asks for j and {daemon_addr}). heloguard skips the connect event itself
-- and reads the client from {client_name}, {client_addr} and {client_port}, which Postfix
-- sends with the other connect macros: open_session sends them too.
server_name = "mx1.example.net"
server_addr = "192.0.2.1"

-- Runs a script's body. miltertest exits 1 on an error but does not print its message, so
-- print it first.
function run(body)
	local ok, message = pcall(body)
	if not ok then
		mt.echo("error: " .. tostring(message))
		error(message)
	end
end

local function check(result, what)
	if result ~= nil then
		error(what .. " failed: " .. tostring(result))
	end
end

-- Opens a milter connection and plays connect and HELO for client `client` (an IPv4 address
-- without a verified name, so the MTA calls it "[address]").
function open_session(client, helo)
	local conn = mt.connect(socket, 20, 0.25)
	if conn == nil then
		error("cannot connect to " .. socket)
	end
	check(mt.negotiate(conn, nil, nil, nil), "mt.negotiate")
	check(mt.macro(conn, SMFIC_CONNECT, "j", server_name, "{daemon_addr}", server_addr,
		"{client_name}", "unknown", "{client_addr}", client, "{client_port}", "0"), "mt.macro(connect)")
	-- The connect event, unless heloguard negotiated it away (miltertest then refuses to send it).
	local sent, result = pcall(mt.conninfo, conn, "[" .. client .. "]", client)
	if not sent and not string.find(tostring(result), "SMFIP_NOCONNECT", 1, true) then
		error(result)
	end
	if sent then check(result, "mt.conninfo") end
	check(mt.helo(conn, helo), "mt.helo")
	return conn
end

function mail_from(conn, sender)
	check(mt.mailfrom(conn, sender), "mt.mailfrom")
end

function rcpt_to(conn, recipient)
	check(mt.rcptto(conn, recipient), "mt.rcptto")
end

-- Fails unless the milter's last reply was `expected` (an SMFIR_* letter code).
function expect_reply(conn, expected, what)
	local got = mt.getreply(conn)
	if got ~= expected then
		error(string.format("%s: the milter replied '%s', expected '%s'", what, string.char(got), string.char(expected)))
	end
end

-- miltertest keeps only the letter of a reply before end of message (SMFIR_REPLYCODE), not its
-- text, so the exact reply is checked in heloguard's log line for the refusal, which carries
-- the text it sent. Waits up to 3 seconds for the line.
function expect_logged(line)
	for _ = 1, 30 do
		local file = io.open(log, "r")
		if file ~= nil then
			local text = file:read("*a")
			file:close()
			if string.find(text, line, 1, true) ~= nil then
				return
			end
		end
		mt.sleep(0.1)
	end
	error("not in heloguard's log: " .. line)
end

function close_session(conn)
	check(mt.disconnect(conn), "mt.disconnect")
end
