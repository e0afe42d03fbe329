-- A non-FQDN HELO is refused for every recipient except the bare postmaster, which Postfix
-- exempts from all restrictions.
dofile(lib .. "/session.lua")

run(function()
	local conn = open_session("203.0.113.7", "foo")
	mail_from(conn, "<a@example.org>")
	for _, recipient in ipairs({ "<postmaster>", "<POSTMASTER>", "postmaster" }) do
		rcpt_to(conn, recipient)
		expect_reply(conn, SMFIR_CONTINUE, "RCPT " .. recipient)
	end
	rcpt_to(conn, "<postmaster@example.com>")
	expect_reply(conn, SMFIR_REPLYCODE, "RCPT <postmaster@example.com>")
	expect_logged("NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 504 5.5.2 <foo>: Helo command rejected: " ..
		"need fully-qualified hostname; from=<a@example.org> to=<postmaster@example.com> helo=<foo>\n")
	close_session(conn)
end)
