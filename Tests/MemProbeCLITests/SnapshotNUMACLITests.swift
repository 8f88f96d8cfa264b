#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Testing
import MemProbeTestSupport

/// `memprobe snapshot` per-node resident bytes (numa_maps), checked against the target's own numa_maps and Rss.
@Suite struct SnapshotNUMACLITests {
    static let hasNumaMaps = FileManager.default.fileExists(atPath: "/proc/self/numa_maps")

    /// Sum of N<node>= pages × page size over a numa_maps text, per node (the test's own independent parse).
    static func nodesFromNumaMaps(_ text: String) -> [Int: Int] {
        var out: [Int: Int] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(separator: " ")
            let kb = tokens.first { $0.hasPrefix("kernelpagesize_kB=") }.flatMap { Int($0.split(separator: "=")[1]) } ?? 4
            for t in tokens where t.first == "N" {
                let kv = t.dropFirst().split(separator: "=")
                if kv.count == 2, let n = Int(kv[0]), let pages = Int(kv[1]) { out[n, default: 0] += pages * kb * 1024 }
            }
        }
        return out
    }

    @Test(.enabled(if: hasNumaMaps, "kernel without NUMA: no /proc/<pid>/numa_maps"))
    func anotherProcessPerNodeBytesInJSONTableAndPrometheus() throws {
        let pid = try spawnProcess("/bin/sleep", ["30"])
        defer { kill(pid, SIGKILL); reap(pid) }
        let r = try CLIProcess.run(["snapshot", "\(pid)", "--format", "json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try r.jsonObject()
        let nodes = try #require(object["numaNodes"] as? [[String: Any]], "numaNodes: \(String(describing: object["numaNodes"]))")
        let expected = Self.nodesFromNumaMaps(try String(contentsOfFile: "/proc/\(pid)/numa_maps", encoding: .utf8))
        var got: [Int: Int] = [:]
        for n in nodes {
            let node = try #require(n["node"] as? Int), bytes = try #require(n["bytes"] as? Int)
            got[node] = bytes
            #expect((n["anonymousBytes"] as? Int ?? -1) >= 0 && (n["anonymousBytes"] as? Int ?? 0) <= bytes)
        }
        #expect(got == expected, "a sleeping process's numa_maps does not change")
        let rss = try #require(object["rss"] as? Int)
        #expect(abs(got.values.reduce(0, +) - rss) <= rss / 5, "per-node total \(got) vs Rss \(rss)")

        let table = try CLIProcess.run(["snapshot", "\(pid)"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("NUMA nodes (numa_maps)") && table.stdout.contains("node \(expected.keys.min()!)"))
        let prom = try CLIProcess.run(["snapshot", "\(pid)", "--format", "prometheus"])
        #expect(prom.status == 0)
        for (node, bytes) in expected {
            #expect(prom.stdout.contains("memprobe_numa_node_resident_bytes{pid=\"\(pid)\",node=\"\(node)\"} \(bytes)"), "\(prom.stdout)")
        }
    }

    @Test func fastModeNamesNumaNodesAsNotRead() throws {
        let r = try CLIProcess.run(["snapshot", "--self", "--fast", "--format", "json"])
        #expect(r.status == 0)
        let object = try r.jsonObject()
        #expect(object["numaNodes"] is NSNull)
        let missing = try #require(object["missing"] as? [[String: Any]])
        #expect(missing.contains { $0["figure"] as? String == "numaNodes" })
    }
}
