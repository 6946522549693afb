package taskstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

var (
	// ErrNotFound means no task has the id.
	ErrNotFound = errors.New("task not found")
	// ErrExists means a task with the id was created before; the wording is the real CLI's database error.
	ErrExists = errors.New("UNIQUE constraint failed: tasks.id")
	// ErrInvalidID means an id the simulator refuses (see ValidID).
	ErrInvalidID = errors.New("invalid task id")
)

// Store is a directory of task files.
type Store struct {
	dir string
}

// Open returns the store in dir, creating the directory if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// LogPath is where the worker of task id logs unless told otherwise.
func (s *Store) LogPath(id string) string { return filepath.Join(s.dir, id+".log") }

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// Create records a new task; ErrExists if its id was used before. Concurrent creates of distinct ids are safe,
// and of one id exactly one wins: the complete file is hard-linked into place, which fails if the name exists.
func (s *Store) Create(t Task) error {
	if !ValidID(t.ID) {
		return fmt.Errorf("%q: %w", t.ID, ErrInvalidID)
	}
	tmp, err := s.writeTemp(t)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path(t.ID)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrExists
		}
		return fmt.Errorf("record task %s: %w", t.ID, err)
	}
	return nil
}

// Load reads a task; ErrNotFound if there is none. It takes no lock: files are only ever replaced whole.
func (s *Store) Load(id string) (Task, error) {
	if !ValidID(id) {
		return Task{}, ErrNotFound
	}
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Task{}, ErrNotFound
	}
	if err != nil {
		return Task{}, fmt.Errorf("read task %s: %w", id, err)
	}
	var t Task
	if err := json.Unmarshal(b, &t); err != nil {
		return Task{}, fmt.Errorf("decode task %s: %w", id, err)
	}
	return t, nil
}

// Update applies change to the stored task under the task's lock and writes the result, unless change returns
// an error, which Update returns as is (nothing is written then).
func (s *Store) Update(id string, change func(*Task) error) (Task, error) {
	if !ValidID(id) {
		return Task{}, ErrNotFound
	}
	unlock, err := s.lock(id)
	if err != nil {
		return Task{}, err
	}
	defer unlock()

	t, err := s.Load(id)
	if err != nil {
		return Task{}, err
	}
	if err := change(&t); err != nil {
		return t, err
	}
	tmp, err := s.writeTemp(t)
	if err != nil {
		return Task{}, err
	}
	if err := os.Rename(tmp, s.path(id)); err != nil {
		os.Remove(tmp)
		return Task{}, fmt.Errorf("replace task %s: %w", id, err)
	}
	return t, nil
}

// lock takes an exclusive flock on the task's lock file (a separate file, because rename replaces the task
// file's inode and with it any lock held on it).
func (s *Store) lock(id string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, id+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock of task %s: %w", id, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock task %s: %w", id, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// writeTemp writes t to a synced temp file in the store's directory and returns its path.
func (s *Store) writeTemp(t Task) (string, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	f, err := os.CreateTemp(s.dir, "."+t.ID+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("write task %s: %w", t.ID, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write task %s: %w", t.ID, err)
	}
	return f.Name(), nil
}
