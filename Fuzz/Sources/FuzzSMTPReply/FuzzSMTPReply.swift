import FuzzSupport
import HeloPolicy
import MilterKit

/// SMTP replies built from access-table text: `REJECT text`, `450 4.7.1 text`, `DEFER_IF_PERMIT
/// text`, restriction lists, ... found by check_helo_access or check_client_access, through the
/// rule core to the milter reply libmilter is given.
///
/// Input: one flag byte (bit 0 soft_bounce, bit 1 smtpd_delay_reject = no, bit 2 the client
/// table instead of the HELO table, bit 3 SMTPUTF8), then table value NUL raw HELO argument NUL
/// client name NUL recipient.
///
/// Properties: a refusal is `[45]NN` matching the verdict (5xx reject, 4xx defer; never 5xx under
/// soft_bounce), its enhanced code has the reply's class, and the milter reply built from it is
/// valid for libmilter and printable 7-bit on the wire.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSMTPReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let flags = data[0]
    var input = FuzzInput(data + 1, size - 1)
    let value = input.text()
    let rawHelo = input.field()
    let clientName = input.text()
    let recipient = input.text()
    // A `sleep N` in the table result is only asked for (decision.pauses); nothing blocks here.
    let table = StaticTable(spec: "static:fuzz", value: value)
    let reference = TableReference(spec: "static:fuzz", table: table)
    let config = ReplyFixture.config(softBounce: flags & 1 != 0, delayReject: flags & 2 == 0,
                                     heloRestrictions: [flags & 4 == 0 ? .checkHeloAccess(reference) : .checkClientAccess(reference)])
    let engine = HeloPolicyEngine(config: config)

    let argument = HeloName.commandArgument(bytes: rawHelo).map { String(decoding: $0, as: UTF8.self) } ?? "helo.example"
    var facts = SessionFacts(clientAddress: "192.0.2.7", clientName: clientName.isEmpty ? "unknown" : clientName,
                             heloArgument: argument, sender: "a@example.org", smtputf8: flags & 8 != 0)
    let atHelo = engine.checkHelo(argument: argument, facts: facts)
    check(atHelo.decision.verdict, softBounce: config.softBounce, context: "helo")
    if let pending = atHelo.pendingDeferral {
        check(.defer(pending), softBounce: config.softBounce, context: "pending")
    }
    facts.heloArgument = argument
    let decision = engine.decide(recipient: recipient.isEmpty ? "b@example.net" : recipient, facts: facts,
                                 heloDeferral: atHelo.pendingDeferral)
    check(decision.verdict, softBounce: config.softBounce, context: "rcpt")
    return 0
}

private func check(_ verdict: Verdict, softBounce: Bool, context: String) {
    switch verdict {
    case .accept, .discard:
        return
    case .reject(let reply):
        require(reply.isPermanent, "reject with a non-5xx reply: \(shown(reply.line))")
        require(!softBounce, "5xx reply under soft_bounce: \(shown(reply.line))")
        checkReply(reply, context: context)
    case .defer(let reply):
        require(reply.code / 100 == 4, "defer with a non-4xx reply: \(shown(reply.line))")
        checkReply(reply, context: context)
    }
}

private func checkReply(_ reply: SMTPReply, context: String) {
    // The rule core keeps Postfix's text (UTF-8 included); 7-bit is checked on the wire below.
    let line = Array(reply.line.utf8)
    require(line.count >= 4 && ReplyRules.isDigit(line[0]) && ReplyRules.isDigit(line[1]) && ReplyRules.isDigit(line[2])
            && line[3] == UInt8(ascii: " "), "reply does not start with a code: \(shown(reply.line)) [\(context)]")
    require(!line.contains { $0 < 0x20 || $0 == 0x7F }, "control byte in reply: \(shown(reply.line)) [\(context)]")
    if let status = reply.enhancedStatus {
        require(status.utf8.first == line[0], "enhanced code class differs: \(shown(reply.line)) [\(context)]")
    }
    // What HeloGuardSession hands to libmilter; a failure here would become an internal-error 4xx.
    let milter: MilterReply
    do {
        milter = try MilterReply(line: reply.line)
    } catch {
        require(false, "rule-core reply refused by MilterReply (\(error)): \(shown(reply.line)) [\(context)]")
        return
    }
    require(milter.code == String(reply.line.prefix(3)), "milter reply code differs [\(context)]")
    require(milter.enhancedCode == reply.enhancedStatus, "milter enhanced code differs: \(shown(reply.line)) [\(context)]")
    ReplyRules.checkWire(milter, context: context)
}

private enum ReplyFixture {
    /// The loaded configuration with this input's restriction list and flags.
    static func config(softBounce: Bool, delayReject: Bool, heloRestrictions: [Restriction]) -> PolicyConfig {
        let c = loaded
        return PolicyConfig(
            heloRestrictions: heloRestrictions, restrictionClasses: c.restrictionClasses, heloRequired: c.heloRequired,
            delayReject: delayReject, dryRun: c.dryRun, softBounce: softBounce, codes: c.codes,
            accessMapsMatchParentDomains: c.accessMapsMatchParentDomains, myNetworks: c.myNetworks,
            impersonation: c.impersonation, unknownHeloTempfailAction: c.unknownHeloTempfailAction,
            nullAccessLookupKey: c.nullAccessLookupKey, myOrigin: c.myOrigin, dns: c.dns, dnsRRListLimit: c.dnsRRListLimit,
            rbl: c.rbl, myHostname: c.myHostname, penalizeImpersonation: c.penalizeImpersonation)
    }

    /// A configuration as heloguard loads one; each input replaces its restriction list.
    static let loaded: PolicyConfig = {
        let text = """
            myhostname = mx.example.test
            mydomain = example.test
            mynetworks = 127.0.0.0/8
            smtpd_helo_restrictions = permit
            """
        do {
            return try ConfigurationLoader.load(text: text, file: "/fuzz/heloguard.conf", interfaces: []).policy
        } catch {
            fatalError("fuzz fixture configuration: \(error)")
        }
    }()
}
