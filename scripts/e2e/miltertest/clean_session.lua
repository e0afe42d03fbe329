-- A well-behaved client: every recipient accepted, the message passes end of message
-- untouched (no header, recipient or quarantine request).
dofile(lib .. "/session.lua")

run(function()
	local conn = open_session("203.0.113.7", "mail.example.net")
	mail_from(conn, "<a@example.org>")
	for _, recipient in ipairs({ "<b@example.com>", "<c@example.net>" }) do
		rcpt_to(conn, recipient)
		expect_reply(conn, SMFIR_CONTINUE, "RCPT " .. recipient)
	end
	-- miltertest fills in DATA, headers and body as far as heloguard negotiated them.
	if mt.eom(conn) ~= nil then
		error("mt.eom failed")
	end
	expect_reply(conn, SMFIR_CONTINUE, "end of message")
	for _, request in ipairs({ MT_HDRADD, MT_HDRINSERT, MT_HDRCHANGE, MT_QUARANTINE }) do
		if mt.eom_check(conn, request) then
			error("heloguard asked for a message change (" .. request .. ") in a clean session")
		end
	end
	-- (miltertest checks recipient changes only for a given address.)
	if mt.eom_check(conn, MT_RCPTDELETE, "<b@example.com>") then
		error("heloguard removed a recipient in a clean session")
	end
	close_session(conn)
end)
