package taskstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateLoadUpdate(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)

	require.NoError(t, s.Create(Task{ID: "task-a-1", Topic: "x", Status: StatusPending}))
	require.ErrorIs(t, s.Create(Task{ID: "task-a-1", Topic: "y"}), ErrExists)
	require.ErrorIs(t, s.Create(Task{ID: "../escape"}), ErrInvalidID)

	got, err := s.Load("task-a-1")
	require.NoError(t, err)
	require.Equal(t, "x", got.Topic, "the first create wins")

	_, err = s.Load("task-missing")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Load("../../etc/passwd")
	require.ErrorIs(t, err, ErrNotFound)

	stop := errors.New("stop")
	_, err = s.Update("task-a-1", func(t *Task) error { t.Topic = "changed"; return stop })
	require.ErrorIs(t, err, stop)
	got, err = s.Load("task-a-1")
	require.NoError(t, err)
	require.Equal(t, "x", got.Topic, "a refused change is not written")

	_, err = s.Update("task-a-1", func(t *Task) error { t.Status = StatusRunning; return nil })
	require.NoError(t, err)
	got, err = s.Load("task-a-1")
	require.NoError(t, err)
	require.Equal(t, StatusRunning, got.Status)
}

func TestConcurrentCreatesOfOneIDHaveOneWinner(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() { errs <- s.Create(Task{ID: "same", Topic: fmt.Sprint(i)}) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, ErrExists)
	}
	require.Equal(t, 1, won)
}

func TestConcurrentUpdatesAreSerialisedAndReadsNeverTorn(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.Create(Task{ID: "counter", Topic: "t"}))

	const writers, each = 4, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				_, err := s.Update("counter", func(t *Task) error { t.Progress.Percentage++; return nil })
				assert.NoError(t, err) // not require: this is not the test's goroutine
			}
		})
	}
	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Load("counter"); err != nil {
				readErr <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	require.NoError(t, <-readErr)

	got, err := s.Load("counter")
	require.NoError(t, err)
	require.Equal(t, writers*each, got.Progress.Percentage, "no update was lost")
}
