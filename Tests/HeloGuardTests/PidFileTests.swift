import Foundation
import Glibc
import Testing
@testable import HeloGuard

/// The pid file is written as root: nothing planted at its path may redirect the write.
@Suite("PidFile: written as root without following what others planted")
struct PidFileTests {
    final class Directory {
        let path = NSTemporaryDirectory() + "heloguard-pid-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func read(_ name: String) -> String? { try? String(contentsOfFile: path + "/" + name, encoding: .utf8) }
    }

    @Test("a fresh pid file holds the pid and a newline, mode 0644")
    func writes() throws {
        let directory = try Directory()
        let file = PidFile(path: directory.path + "/heloguard.pid")
        try file.write(pid: 4242)
        #expect(directory.read("heloguard.pid") == "4242\n")
        var info = stat()
        #expect(stat(file.path, &info) == 0 && info.st_mode & 0o777 == 0o644)
    }

    @Test("a symlink at the pid path is refused and its target left untouched")
    func symlinkRefused() throws {
        let directory = try Directory()
        let target = directory.path + "/victim"
        try "precious\n".write(toFile: target, atomically: false, encoding: .utf8)
        #expect(symlink(target, directory.path + "/heloguard.pid") == 0)
        let file = PidFile(path: directory.path + "/heloguard.pid")
        #expect(throws: PidFile.Problem.symlink(file.path)) { try file.write(pid: 4242) }
        #expect(directory.read("victim") == "precious\n")
        #expect(PidFile.Problem.symlink(file.path).description.contains("is a symbolic link; refusing to write through it"))
    }

    @Test("a dangling symlink is refused too: nothing is created at its target")
    func danglingSymlinkRefused() throws {
        let directory = try Directory()
        #expect(symlink(directory.path + "/created-by-root", directory.path + "/heloguard.pid") == 0)
        let file = PidFile(path: directory.path + "/heloguard.pid")
        #expect(throws: PidFile.Problem.symlink(file.path)) { try file.write(pid: 4242) }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/created-by-root"))
    }

    @Test("a hard link at the pid path is replaced, not truncated: the linked file keeps its content")
    func hardLinkReplaced() throws {
        let directory = try Directory()
        let target = directory.path + "/victim"
        try "precious\n".write(toFile: target, atomically: false, encoding: .utf8)
        #expect(link(target, directory.path + "/heloguard.pid") == 0)
        let file = PidFile(path: directory.path + "/heloguard.pid")
        try file.write(pid: 4242)
        #expect(directory.read("victim") == "precious\n")
        #expect(directory.read("heloguard.pid") == "4242\n")
    }

    @Test("a directory at the pid path is refused")
    func directoryRefused() throws {
        let directory = try Directory()
        try FileManager.default.createDirectory(atPath: directory.path + "/heloguard.pid", withIntermediateDirectories: false)
        let file = PidFile(path: directory.path + "/heloguard.pid")
        #expect(throws: PidFile.Problem.notRegularFile(file.path)) { try file.write(pid: 4242) }
    }

    @Test("removed at exit only while it still holds our pid")
    func removal() throws {
        let directory = try Directory()
        let file = PidFile(path: directory.path + "/heloguard.pid")
        try file.write(pid: 4242)
        #expect(!file.remove(pid: 4243))
        #expect(directory.read("heloguard.pid") == "4242\n")
        #expect(file.remove(pid: 4242))
        #expect(directory.read("heloguard.pid") == nil)
    }

    @Test("a relative path names the same file after a change of directory")
    func absolutePath() {
        let here = FileManager.default.currentDirectoryPath
        #expect("conf/heloguard.conf".absolutePath == (here == "/" ? "" : here) + "/conf/heloguard.conf")
        #expect("/etc/heloguard/heloguard.conf".absolutePath == "/etc/heloguard/heloguard.conf")
        #expect("./a/../b.conf".absolutePath == (here == "/" ? "" : here) + "/b.conf")
    }
}
