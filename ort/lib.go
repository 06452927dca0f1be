package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
)

// EnvLibrary is the environment variable that names the ONNX Runtime shared
// library when no flag is given.
const EnvLibrary = "ONNXRUNTIME_LIB"

// ErrNoLibrary is wrapped by LibraryPath's error when no library was found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found: run scripts/fetch-ort.sh or set " + EnvLibrary)

// LibraryPath returns the ONNX Runtime shared library to load: flag if not
// empty, else $ONNXRUNTIME_LIB, else the file scripts/fetch-ort.sh writes
// (.ort/libonnxruntime.so.1 in the repository, found by walking up from the
// working directory and from the executable). The error says how to get it.
func LibraryPath(flag string) (string, error) {
	for _, p := range []struct{ path, from string }{{flag, "--ort-lib"}, {os.Getenv(EnvLibrary), EnvLibrary}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %s (from %s): %w", p.path, p.from, err)
		}
		return p.path, nil
	}
	if p := fetchedLibrary(); p != "" {
		return p, nil
	}
	return "", ErrNoLibrary
}

// fetchedLibrary looks for .ort/libonnxruntime.so.1 in the working directory,
// the executable's directory, and their parents.
func fetchedLibrary() string { return FindFetched(filepath.Join(".ort", "libonnxruntime.so.1")) }

// FindFetched returns the first regular file at rel (a path such as
// .ort/libonnxruntime.so.1, where the fetch scripts put what they fetch)
// below the working directory, the executable's directory, or one of their
// parents; "" if there is none.
func FindFetched(rel string) string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, rel)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

var (
	initMu   sync.Mutex
	initPath string
)

// Init loads the shared library at libPath and creates ONNX Runtime's
// environment. It is idempotent: later calls with the same (or an empty)
// path do nothing; a different path is an error, because a process can hold
// only one ONNX Runtime.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath != "" {
		if libPath == "" || libPath == initPath {
			return nil
		}
		return fmt.Errorf("ONNX Runtime already loaded from %s; cannot load %s too", initPath, libPath)
	}
	if libPath == "" {
		var err error
		if libPath, err = LibraryPath(""); err != nil {
			return err
		}
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("ONNX Runtime bridge supports linux only (fetch-ort.sh ships linux libraries)")
	}
	ortgo.SetSharedLibraryPath(libPath)
	if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
		return fmt.Errorf("load ONNX Runtime %s: %w", libPath, err)
	}
	initPath = libPath
	return nil
}

// Version reports the loaded ONNX Runtime's version ("" before Init).
func Version() string {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath == "" {
		return ""
	}
	return ortgo.GetVersion()
}
