"""The main thread leaves with pthread_exit() while a worker thread still runs
(a POSIX pattern: the process ends when its last thread does, with status 0).
Run by pthread_exit.sh with and without libpageflex.so. ctypes releases the
GIL around the foreign call, so the worker can finish."""
import ctypes
import threading
import time


def work():
    time.sleep(0.2)
    print("worker done", flush=True)


threading.Thread(target=work).start()
print("main thread leaves with pthread_exit", flush=True)
ctypes.CDLL(None).pthread_exit(None)
