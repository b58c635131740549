// Package atomicfile replaces files so that a crash or power cut at any
// moment leaves either the old content or the new, never a mixture: the
// new content goes to a temporary file in the same directory, which is
// synced, renamed over the target, and the directory synced.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of every temporary file this package
// creates, so that readers can ignore (and RemoveTemps delete) what a
// crash left behind.
const TempPrefix = ".tmp-"

// Hook, when not nil, is called before each step of a replacement with
// the step's name ("create", "write", "fsync", "rename", "fsync-dir") and
// the target path. An error stops the replacement at that point, as a
// crash would; tests use it to inject crashes.
type Hook func(step, path string) error

// File is a temporary file that replaces its target on Commit.
type File struct {
	*os.File
	target string
	hook   Hook
}

func (h Hook) call(step, path string) error {
	if h == nil {
		return nil
	}
	return h(step, path)
}

// Create opens a new, empty temporary file beside path, with mode perm.
// Write to it, then Commit or Abort.
func Create(path string, perm os.FileMode, hook Hook) (*File, error) {
	if err := hook.call("create", path); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, target: path, hook: hook}, nil
}

// Commit fsyncs the temporary file, renames it over the target and fsyncs
// the directory, so that the new content and its name are durable. On
// failure before the rename, the temporary file is removed.
func (f *File) Commit() error {
	err := f.hook.call("fsync", f.target)
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = f.hook.call("rename", f.target)
	}
	if err == nil {
		err = os.Rename(f.Name(), f.target)
	}
	if err != nil {
		f.Abort()
		return err
	}
	if err := f.hook.call("fsync-dir", f.target); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.target))
}

// Abort closes and removes the temporary file.
func (f *File) Abort() {
	f.Close()
	os.Remove(f.Name())
}

// Write replaces the file at path with data: temporary file, write,
// fsync, rename, fsync of the directory.
func Write(path string, data []byte, perm os.FileMode, hook Hook) error {
	f, err := Create(path, perm, hook)
	if err != nil {
		return err
	}
	if err := hook.call("write", path); err != nil {
		f.Abort()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return f.Commit()
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// RemoveTemps deletes the temporary files that crashed replacements left
// in dir.
func RemoveTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
