import Testing
#if canImport(Glibc)
import Glibc
#endif
import PostfixSyntax

/// A private directory under /tmp, removed with the files written into it.
final class ScratchDirectory {
    let path: String
    private var files: [String] = []

    init() throws {
        var template = Array("/tmp/postfixsyntax-test.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }

    deinit {
        for file in files { unlink(file) }
        rmdir(path)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try #require(descriptor >= 0)
        files.append(file)
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        try #require(written == bytes.count)
        return file
    }
}

struct FileContentsTests {
    @Test(arguments: [
        ("empty", [UInt8]()),
        ("text with NUL, CR and malformed UTF-8", [0x61, 0x00, 0x0D, 0x0A, 0xFF, 0xE2, 0x82]),
        ("more than one read's worth", (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
    ])
    func readsEveryByte(_ name: String, _ bytes: [UInt8]) throws {
        let scratch = try ScratchDirectory()
        let file = try scratch.write("file", bytes)
        #expect(try FileContents.read(file) == bytes, "\(name)")
    }

    @Test func missingFileIsAnOpenError() throws {
        let scratch = try ScratchDirectory()
        let missing = scratch.path + "/missing"
        let error = FileReadError(operation: .open, path: missing, code: ENOENT)
        #expect(throws: error) { try FileContents.read(missing) }
        #expect(error.description == "cannot open \(missing): No such file or directory")
    }

    @Test func directoryIsAReadError() throws {
        let scratch = try ScratchDirectory()
        let error = FileReadError(operation: .read, path: scratch.path, code: EISDIR)
        #expect(throws: error) { try FileContents.read(scratch.path) }
        #expect(error.description == "cannot read \(scratch.path): Is a directory")
        #expect(error.reason == "Is a directory")
    }
}
