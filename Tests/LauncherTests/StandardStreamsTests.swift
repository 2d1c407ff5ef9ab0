import Foundation
import Testing

@testable import Launcher

/// `--trace` lines and the guest's console share a terminal: a message must never split a console line.
/// Both streams go to one pipe here, as a terminal shows them.
@Suite struct StandardStreamsTests {
    /// Runs `body` against streams whose stdout and stderr are one pipe; returns what the pipe received.
    func combined(_ body: (StandardStreams) -> Void) throws -> String {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let streams = StandardStreams(stdout: fds[1], stderr: fds[1])
        body(streams)
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        close(fds[0])
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func aMessageWaitsForTheEndOfTheConsoleLine() throws {
        let text = try combined { s in
            s.console(Array("Hello ".utf8))
            s.message("  KVM_SET_MEMORY_ATTRIBUTES %vm gpa=0x0 size=4KiB attributes=0 = 0")
            s.console(Array("world\nnext".utf8))
            s.message("second")
            s.console(Array(" line\n".utf8))
        }
        #expect(text == "Hello world\n  KVM_SET_MEMORY_ATTRIBUTES %vm gpa=0x0 size=4KiB attributes=0 = 0\nnext line\nsecond\n")
    }

    @Test func messagesBetweenLinesAreWrittenAtOnce() throws {
        let text = try combined { s in
            s.message("before")
            s.console(Array("a\n".utf8))
            s.message("between")
            s.console(Array("b\n".utf8))
        }
        #expect(text == "before\na\nbetween\nb\n")
    }

    @Test func heldMessagesFollowAConsoleThatEndsMidLine() throws {
        let text = try combined { s in
            s.console(Array("login: ".utf8))
            s.message("kvmplan: timeout")
            s.consoleEnded()
        }
        #expect(text == "login: \nkvmplan: timeout\n")
    }

    @Test func aFloodOfMessagesIsBounded() throws {
        let text = try combined { s in
            s.console(Array("partial".utf8))
            for i in 0..<StandardStreams.maxHeld { s.message("m\(i)") }
            s.console(Array(" rest\n".utf8))
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "partial")
        #expect(lines.dropFirst().first == "m0")
        #expect(lines.contains("m\(StandardStreams.maxHeld - 1)"))
        #expect(text.hasSuffix(" rest\n"))
    }
}
