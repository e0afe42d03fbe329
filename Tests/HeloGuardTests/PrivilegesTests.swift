import Glibc
import Testing
@testable import HeloGuard

/// After `--user`, heloguard checks that root cannot be taken back and refuses to run if it can.
@Suite("ServiceAccount: the switch away from root is checked")
struct PrivilegesTests {
    /// Still root here (the test process never switches): a process in that state must be
    /// refused, so the check is seen to fire.
    @Test("a process that can still become root is refused", .enabled(if: geteuid() == 0, "needs root"))
    func rootStillReachableIsRefused() {
        #expect(throws: ServiceAccount.SwitchError.rootRegainable(account: "nobody")) {
            try ServiceAccount.verifyCannotRegainRoot(account: "nobody", uid: 65534, gid: 65534)
        }
        #expect(geteuid() == 0, "the check itself changes nothing for root")
    }

    @Test("switching to root itself (--user root) has nothing to verify")
    func rootAccount() throws {
        try ServiceAccount.verifyCannotRegainRoot(account: "root", uid: 0, gid: 0)
    }

    @Test func messages() {
        #expect(ServiceAccount.SwitchError.rootRegainable(account: "heloguard").description
                == "after switching to user heloguard, root privileges could be regained; refusing to run")
        #expect(ServiceAccount.rootWarning.hasPrefix("running as root: "))
    }
}
