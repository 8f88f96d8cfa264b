import CShims

/// A growable array of plain values in an anonymous mapping of its own: the heap sampler's storage, which must
/// never allocate through malloc or an arena (it runs inside allocation calls).
///
/// It calls `cshims_mmap_anonymous` directly, not the system layer's mockable choke point: a test injecting
/// ENOMEM into its task's next `mmap` must see that fault in the arena, not in the sampler that happened to run.
struct MappedBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>? = nil
    /// Elements that fit (the mapping is rounded up to whole pages).
    private(set) var capacity = 0
    private var mappedBytes = 0

    /// A zero-filled buffer of at least `count` elements, or nil when the kernel refuses the mapping.
    static func zeroed(count: Int) -> MappedBuffer? {
        let stride = MemoryLayout<Element>.stride
        let page = Int(cshims_page_size())
        let bytes = (max(count, 1) * stride + page - 1) / page * page
        var raw: UnsafeMutableRawPointer? = nil
        guard cshims_mmap_anonymous(bytes, 0, &raw) == 0, let raw else { return nil }
        var b = MappedBuffer()
        b.base = raw.bindMemory(to: Element.self, capacity: bytes / stride)
        b.capacity = bytes / stride
        b.mappedBytes = bytes
        return b
    }

    /// Grows to at least `count` elements, keeping the contents (the new part is zero). False when the kernel
    /// refuses the mapping; the buffer is then unchanged.
    mutating func grow(toAtLeast count: Int) -> Bool {
        if count <= capacity { return true }
        var target = max(capacity * 2, 256)
        while target < count { target *= 2 }
        guard var bigger = MappedBuffer.zeroed(count: target) else { return false }
        if let old = base, capacity > 0 {
            bigger.base!.update(from: old, count: capacity)
        }
        swap(&self, &bigger)
        bigger.release()
        return true
    }

    mutating func release() {
        if let b = base { _ = cshims_munmap(b, mappedBytes) }
        base = nil
        capacity = 0
        mappedBytes = 0
    }

    /// Bytes mapped (the sampler's own memory, reported by ``HeapSampler``).
    var bytes: Int { mappedBytes }

    subscript(i: Int) -> Element {
        @inline(__always) get { base![i] }
        @inline(__always) nonmutating set { base![i] = newValue }
    }
}
