// Buffered output to a file descriptor that survives its reader going away
// (`tcpleak trace | head`): the program ignores SIGPIPE, so a vanished reader
// shows up as EPIPE, after which output is dropped quietly.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace tcpleak {

class OutputBuffer {
public:
    // Does not own fd. The buffer reserves flush_threshold bytes plus room
    // for one more record, so steady-state appends do not allocate. name is
    // what write errors call the output ("leaks.xml"); by default "standard
    // output", "standard error" or "file descriptor N".
    explicit OutputBuffer(int fd, std::size_t flush_threshold = 64 * 1024, std::string name = {});
    OutputBuffer(const OutputBuffer&) = delete;
    OutputBuffer& operator=(const OutputBuffer&) = delete;
    // Flushes what is left, best effort (errors are swallowed).
    ~OutputBuffer();

    // Append output here, then call maybe_flush().
    std::string& buffer() { return buffer_; }

    void maybe_flush() {
        if (buffer_.size() >= flush_threshold_)
            flush();
    }

    // Writes everything buffered, retrying short writes and EINTR, and
    // waiting for POLLOUT on EAGAIN (a slow reader blocks the caller: the
    // kernel ring buffer then fills up and counts lost events). Returns false
    // once the reader has gone (EPIPE; or, with nothing to write, POLLERR on
    // a pipe or POLLHUP on a socket or terminal) or a stop signal (SIGINT,
    // SIGTERM) came and the reader then took nothing for the grace period:
    // closed() is then true and later output is discarded.
    // Other write errors (a full disk: ENOSPC, EIO, ...) throw UserError
    // naming the output: "cannot write standard output: No space left on
    // device".
    bool flush();

    // run's report: a stop signal is forwarded to COMMAND, and the report
    // must still be written.
    void keep_writing_on_stop_signal() { give_up_on_stop_ = false; }
    // How long, after a stop signal, a reader may take nothing before the
    // output is given up.
    void set_stop_grace(std::chrono::milliseconds grace) { stop_grace_ = grace; }

    bool closed() const { return closed_; }
    int fd() const { return fd_; }

private:
    // Writes buffer_ from offset `written` on; returns how far it got.
    std::size_t write_from(std::size_t written);
    bool stopping() const;

    int fd_;
    std::string name_;
    std::size_t flush_threshold_;
    std::string buffer_;
    short hangup_events_ = 0; // poll() events meaning the reader is gone; 0: not pollable
    bool give_up_on_stop_ = true;
    std::chrono::milliseconds stop_grace_{1000};
    bool closed_ = false;
};

} // namespace tcpleak
