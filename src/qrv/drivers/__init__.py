"""Device drivers: programs that own hardware through mmap and serve it as resource managers."""
