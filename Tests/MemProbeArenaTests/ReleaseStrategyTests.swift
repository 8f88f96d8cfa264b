import MemProbeArena
import MemProbeTestSupport
import Testing

@Suite struct ReleaseStrategyTests {
    @Test func parsesEveryNameAndRoundTrips() throws {
        let cases: [(String, ReleaseStrategy)] = [
            ("retain", .retain), ("lazyFree", .lazyFree), ("dontNeed", .dontNeed), ("unmap", .unmap),
            ("decay", .decay(delay: ReleaseStrategy.defaultDelay)), ("decay:500ms", .decay(delay: .milliseconds(500))),
            ("freeThenPageOut", .freeThenPageOut(delay: ReleaseStrategy.defaultDelay)),
            ("freeThenPageOut:1s", .freeThenPageOut(delay: .seconds(1))), ("DONTNEED", .dontNeed),
            (" lazyfree ", .lazyFree), ("decay:250us", .decay(delay: .microseconds(250))), ("decay:2m", .decay(delay: .seconds(120))),
            ("decay:1.5s", .decay(delay: .milliseconds(1500))), ("decay:20", .decay(delay: .milliseconds(20))),
        ]
        for (text, expected) in cases {
            let s = try ReleaseStrategy(parsing: text)
            #expect(s == expected, "\(text)")
            #expect(try ReleaseStrategy(parsing: s.description) == s, "round trip of \(s)")
        }
        #expect(ReleaseStrategy.decay(delay: .milliseconds(500)).description == "decay:500ms")
    }

    @Test(arguments: ["", "dontneed:1s", "madvdontneed=1", "decay:", "decay:-1s", "decay:abc", "free", "retain:0"])
    func rejectsUnknownWithTheValidNames(_ text: String) {
        #expect {
            _ = try ReleaseStrategy(parsing: text)
        } throws: { error in
            guard case ArenaError.invalidStrategy(let got, let valid) = error else { return false }
            return got == text && valid == ReleaseStrategy.validNames
                && error.localizedDescription.isEmpty == false
                && "\(error)".contains("lazyFree")
        }
    }
}
