// What a service needs comes with `import MemProbe`: the arena and the map, and the system figures MemStats uses.
@_exported import MemProbeArena
@_exported import MemProbeMap
@_exported import MemProbeSystem
