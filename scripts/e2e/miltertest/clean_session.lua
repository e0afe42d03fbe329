-- A well-behaved client: nothing in the restrictions can refuse a recipient of this message
-- or change it, so heloguard accepts the whole message at MAIL FROM (SMFIR_ACCEPT): the MTA
-- asks nothing more about it (no RCPT, DATA or end of message), and the next MAIL FROM is
-- asked again.
dofile(lib .. "/session.lua")

run(function()
	local conn = open_session("203.0.113.7", "mail.example.net")
	mail_from(conn, "<a@example.org>")
	expect_reply(conn, SMFIR_ACCEPT, "MAIL")
	if mt.abort(conn) ~= nil then
		error("mt.abort failed")
	end
	mail_from(conn, "<b@example.org>")
	expect_reply(conn, SMFIR_ACCEPT, "second MAIL")
	close_session(conn)
end)
