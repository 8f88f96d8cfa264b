print("memprobe")
