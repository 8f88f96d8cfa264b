/// Which process a task id belongs to: `/proc/<id>/status` `Tgid`. Thread ids have `/proc/<tid>` entries too
/// (hidden from listings), so a tool given a thread id would otherwise report the whole process under it.
public enum ThreadGroup {
    /// The process (thread group) id of task `id`, or nil when the task is gone or its status unreadable.
    public static func processID(ofTask id: Int32) -> Int32? {
        guard let text = try? ProcFile.read(pid: id, "status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingCharacters(in: " \t"))
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
