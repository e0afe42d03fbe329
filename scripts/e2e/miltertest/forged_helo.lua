-- A client that greets with the server's own name or address is refused at RCPT TO with
-- heloguard's reply for reject_impersonating_helo, for every recipient.
dofile(lib .. "/session.lua")

run(function()
	-- The name is known only from the connect macro j (the runner's configuration names another
	-- host), the address from impersonation_addresses.
	for _, helo in ipairs({ server_name, "[192.0.2.25]" }) do
		local conn = open_session("203.0.113.7", helo)
		mail_from(conn, "<a@example.org>")
		for _, recipient in ipairs({ "b@example.com", "c@example.net" }) do
			rcpt_to(conn, "<" .. recipient .. ">")
			expect_reply(conn, SMFIR_REPLYCODE, "RCPT " .. recipient .. " after HELO " .. helo)
			expect_logged("NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 550 5.7.1 <" .. helo ..
				">: Helo command rejected: Host impersonates this server; from=<a@example.org> to=<" ..
				recipient .. "> helo=<" .. helo .. ">\n")
		end
		close_session(conn)
	end
end)
