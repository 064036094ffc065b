;;; drover.el --- Drive Drover pipelines and their gates -*- lexical-binding: t; -*-

;; Copyright (C) 2025 The Drover authors

;; Author: The Drover authors
;; Maintainer: The Drover authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (jsonrpc "1.0.14"))
;; Keywords: tools, processes
;; URL: https://github.com/drover-dev/drover

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Drover runs pipelines of AI-agent steps on a code workspace and stops
;; at human gates: decisions (an agent's question with options) and
;; approvals (a step's output waiting for a person).  This package
;; starts `drover serve' for the current project and speaks its JSON-RPC
;; protocol (see protocol/README.md in the Drover repository) with the
;; built-in `jsonrpc' library.
;;
;; Commands:
;;   `drover-run'    start a run of a pipeline (asks for pipeline and task)
;;   `drover-runs'   list runs, live; RET opens a run buffer
;;   `drover-inbox'  open gates: decide, approve, request changes, reject,
;;                   or edit the proposal and approve it
;;   `drover-log'    follow a step's log live, backfilled from the log file
;;   `drover-diff'   the files a run changed; each file's patch in `diff-mode'
;;   `drover-apply'  bring a done run onto your branch (merge, squash, patch)
;;   `drover-trust'  trust the workspace, after asking
;;   `drover-stop'   stop the server of the workspace
;;   `drover-mode'   global minor mode: open gates in the mode line
;;
;; Every request is asynchronous: Emacs never waits on the server.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'jsonrpc)
(require 'subr-x)
(require 'tabulated-list)
(require 'diff-mode)
(require 'project)
(require 'parse-time)

(declare-function notifications-notify "notifications" (&rest params))

(defconst drover-version "0.1.0"
  "Version of the drover.el package.")

;;;; Customization

(defgroup drover nil
  "Drive Drover pipelines of AI agents from Emacs."
  :group 'tools
  :prefix "drover-"
  :link '(url-link "https://github.com/drover-dev/drover"))

(defcustom drover-command "drover"
  "The drover program: a file name, or a name to look up in variable `exec-path'."
  :type 'string)

(defcustom drover-args '("serve")
  "Arguments given to `drover-command' to start the JSON-RPC server."
  :type '(repeat string))

(defcustom drover-workspace nil
  "Workspace folder to drive, or nil for the current project's root.
When nil, the root of `project-current' is used, else `default-directory'."
  :type '(choice (const :tag "Current project" nil) directory))

(defcustom drover-request-timeout 30
  "Seconds to wait for a response before telling the user it timed out."
  :type 'number)

(defcustom drover-desktop-notifications t
  "When non-nil, a gate that opens is also announced on the desktop.
This uses `notifications-notify' when D-Bus is available."
  :type 'boolean)

(defcustom drover-events-buffer-size 0
  "Size of the jsonrpc events buffer, for debugging; 0 turns it off."
  :type '(choice (const :tag "Unlimited" nil) integer))

(defface drover-status-running '((t :inherit font-lock-keyword-face))
  "Face of the status of running runs and working steps.")

(defface drover-status-blocked '((t :inherit warning))
  "Face of the status of runs and steps waiting on a person.")

(defface drover-status-done '((t :inherit success))
  "Face of the status of finished runs and steps.")

(defface drover-status-failed '((t :inherit error))
  "Face of the status of failed runs and steps.")

(defface drover-status-other '((t :inherit shadow))
  "Face of the status of queued, pending, cancelled or skipped items.")

(defface drover-heading '((t :inherit bold))
  "Face of headings in Drover buffers.")

;;;; Server state

(cl-defstruct (drover--server (:constructor drover--server-make)
                              (:copier nil))
  "The connection to one workspace's `drover serve' and what it told us."
  root conn process methods
  ready queue dead stopping
  (runs (make-hash-table :test #'equal))
  (events (make-hash-table :test #'equal))
  (seqs (make-hash-table :test #'equal))
  (catching (make-hash-table :test #'equal))
  (fetching (make-hash-table :test #'equal))
  inbox inbox-state
  (seen-gates (make-hash-table :test #'equal))
  loggers refresh-timer)

(defvar drover--servers (make-hash-table :test #'equal)
  "Servers by workspace root (a directory name).")

(defvar-local drover--buffer-root nil
  "Workspace root of a Drover buffer.")

(defvar-local drover--refresh-function nil
  "Function that redraws a Drover buffer from the cached state.")

(defun drover--root ()
  "The workspace root for the current buffer, as a directory name."
  (file-name-as-directory
   (expand-file-name
    (or drover--buffer-root
        drover-workspace
        (when-let ((project (project-current))) (project-root project))
        default-directory))))

(defun drover--message (format-string &rest args)
  "Tell the user FORMAT-STRING formatted with ARGS, prefixed by \"drover: \"."
  (message "%s" (concat "drover: " (apply #'format-message format-string args))))

(defun drover--live-p (server)
  "Non-nil when the process of SERVER is alive."
  (and server (drover--server-process server)
       (process-live-p (drover--server-process server))))

(defun drover--server (&optional root)
  "The server of ROOT (default: the current workspace), started if needed."
  (let* ((root (or root (drover--root)))
         (server (or (gethash root drover--servers)
                     (puthash root (drover--server-make :root root) drover--servers))))
    (unless (drover--live-p server)
      (drover--start server))
    server))

(defun drover--stderr-tail (server)
  "The last non-empty line SERVER's process wrote on stderr, or nil."
  (when-let* ((proc (drover--server-process server))
              (buffer (process-get proc 'jsonrpc-stderr))
              ((buffer-live-p buffer)))
    (with-current-buffer buffer
      (let ((text (string-trim (buffer-string))))
        (unless (string-empty-p text)
          (car (last (split-string text "\n"))))))))

(defun drover--start (server)
  "Start `drover serve' for SERVER and send `initialize'."
  (let* ((root (drover--server-root server))
         (program (executable-find drover-command))
         (name (format "drover %s" (abbreviate-file-name (directory-file-name root))))
         (default-directory root))
    (unless program
      (user-error "Drover: cannot find the program `%s'; install drover or set `drover-command'"
                  drover-command))
    (let* ((proc (condition-case err
                     (make-process :name name
                                   :command (cons program drover-args)
                                   :connection-type 'pipe
                                   :coding 'utf-8-emacs-unix
                                   :noquery t
                                   :stderr (get-buffer-create (format "*%s stderr*" name)))
                   (file-error
                    (user-error "Drover: cannot start `%s': %s"
                                program (error-message-string err)))))
           (conn (make-instance
                  'jsonrpc-process-connection
                  :name name
                  :process proc
                  :events-buffer-scrollback-size drover-events-buffer-size
                  :notification-dispatcher
                  (lambda (_conn method params)
                    (with-demoted-errors "drover: error handling a notification: %S"
                      (drover--dispatch server method params)))
                  :on-shutdown (lambda (_conn) (drover--on-exit server proc)))))
      (setf (drover--server-process server) proc
            (drover--server-conn server) conn
            (drover--server-ready server) nil
            (drover--server-dead server) nil
            (drover--server-stopping server) nil)
      (jsonrpc-async-request
       conn 'initialize
       (list :protocolVersion 1
             :clientInfo (list :name "drover.el" :version drover-version)
             :workspace (directory-file-name root))
       :success-fn (lambda (result) (drover--on-initialized server result))
       :error-fn (lambda (err) (drover--on-initialize-failed server proc err))
       :timeout drover-request-timeout
       :timeout-fn (lambda () (drover--message "the server did not answer `initialize'")))
      (force-mode-line-update t))))

(defun drover--on-initialized (server result)
  "Record SERVER's `initialize' RESULT, send what waited, and catch up."
  (setf (drover--server-methods server)
        (append (plist-get (plist-get result :capabilities) :methods) nil))
  (setf (drover--server-ready server) t)
  (jsonrpc-notify (drover--server-conn server) 'initialized nil)
  (let ((queue (drover--server-queue server)))
    (setf (drover--server-queue server) nil)
    (mapc (lambda (entry) (funcall (car entry))) queue))
  ;; Catch up on every run we knew of (after a reconnect), then list runs and gates.
  (maphash (lambda (id _seq) (drover--catch-up server id)) (drover--server-seqs server))
  (drover--refresh-runs server)
  (drover--refresh-inbox server))

(defun drover--on-initialize-failed (server proc err)
  "Tell the user why SERVER refused `initialize' with ERR, and stop PROC."
  (unless (eql (plist-get err :code) -1)
    (drover--message "the server refused to start: %s" (plist-get err :message)))
  (let ((queue (drover--server-queue server)))
    (setf (drover--server-queue server) nil)
    (dolist (entry queue)
      (when (cdr entry) (funcall (cdr entry) err))))
  (setf (drover--server-stopping server) t)
  (when (process-live-p proc) (delete-process proc)))

(defun drover--on-exit (server proc)
  "Note that SERVER's process PROC has exited; tell the user once."
  (when (eq proc (drover--server-process server))
    (setf (drover--server-ready server) nil
          (drover--server-queue server) nil)
    (clrhash (drover--server-catching server))
    (clrhash (drover--server-fetching server))
    (setf (drover--server-inbox-state server) nil)
    (unless (drover--server-stopping server)
      (setf (drover--server-dead server) t)
      (let ((tail (drover--stderr-tail server)))
        (drover--message "the server for %s exited unexpectedly (status %s)%s; the next Drover command restarts it"
                         (abbreviate-file-name (drover--server-root server))
                         (process-exit-status proc)
                         (if tail (format " after: %s" tail) ""))))
    (drover--changed server)))

(defun drover--has-method (server method)
  "Non-nil when METHOD is among the `capabilities.methods' of SERVER."
  (member method (drover--server-methods server)))

(defun drover--error-handler (method on-error)
  "An error callback for METHOD: ON-ERROR if given, else tell the user."
  (lambda (err)
    (cond
     ((eql (plist-get err :code) -1))   ; server died: told once, elsewhere
     (on-error (funcall on-error err))
     (t (drover--message "%s failed: %s" method (plist-get err :message))))))

(defun drover--request (server method params &optional on-success on-error)
  "Send METHOD with PARAMS to SERVER asynchronously.
ON-SUCCESS gets the result; ON-ERROR gets the error object (a plist
with :code, :message and :data), else the error is shown to the user."
  (let* ((failed (drover--error-handler method on-error))
         (send (lambda ()
                 (jsonrpc-async-request
                  (drover--server-conn server) (intern method) params
                  :success-fn (lambda (result)
                                (when on-success (funcall on-success result)))
                  :error-fn failed
                  :timeout drover-request-timeout
                  :timeout-fn (lambda ()
                                (drover--message "%s got no answer in %s seconds"
                                                 method drover-request-timeout))))))
    (unless (drover--live-p server)
      (drover--start server))
    (if (drover--server-ready server)
        (funcall send)
      (setf (drover--server-queue server)
            (append (drover--server-queue server) (list (cons send failed)))))
    nil))

(defun drover--dispatch (server method params)
  "Handle the notification METHOD with PARAMS from SERVER."
  (pcase method
    ('run/event (drover--on-event server params))
    ('run/log (drover--on-log server params))))

;;;; Events, runs and the inbox

(defconst drover--gate-event-types
  '("decision.requested" "decision.resolved" "approval.requested" "approval.resolved"
    "run.cancelled" "run.failed" "run.retried" "run.restarted" "run.completed"
    "run.children" "run.started" "step.completed")
  "Event types after which the inbox may have changed.")

(defun drover--on-event (server event)
  "Apply the `run/event' notification EVENT of SERVER, catching up on gaps."
  (let* ((id (plist-get event :runId))
         (seq (plist-get event :seq))
         (stash (gethash id (drover--server-catching server))))
    (if stash
        (push event (car stash))
      (let ((known (gethash id (drover--server-seqs server) 0)))
        (cond ((<= seq known))
              ((= seq (1+ known)) (drover--apply-events server id (list event)))
              (t (drover--catch-up server id (list event))))))))

(defun drover--catch-up (server id &optional stashed)
  "Page run ID's events after the last one SERVER has; STASHED come after."
  (unless (gethash id (drover--server-catching server))
    (puthash id (list stashed) (drover--server-catching server))
    (drover--page-events server id)))

(defun drover--page-events (server id)
  "Ask SERVER for the next page of run ID's events (see `drover--catch-up')."
  (drover--request
   server "run/events"
   (list :runId id :afterSeq (gethash id (drover--server-seqs server) 0) :limit 1000)
   (lambda (result)
     (drover--apply-events server id (append (plist-get result :events) nil))
     (if (eq (plist-get result :more) t)
         (drover--page-events server id)
       (let ((stashed (car (gethash id (drover--server-catching server)))))
         (remhash id (drover--server-catching server))
         (dolist (event (sort stashed (lambda (a b) (< (plist-get a :seq) (plist-get b :seq)))))
           (drover--on-event server event)))))
   (lambda (err)
     (remhash id (drover--server-catching server))
     (unless (eql (plist-get err :code) -1)
       (drover--message "run/events failed: %s" (plist-get err :message))))))

(defun drover--apply-events (server id events)
  "Record EVENTS (ascending) of run ID on SERVER, skipping those it has."
  (let ((seqs (drover--server-seqs server))
        (applied nil)
        (gates nil))
    (dolist (event events)
      (when (= (plist-get event :seq) (1+ (gethash id seqs 0)))
        (puthash id (plist-get event :seq) seqs)
        (push event (gethash id (drover--server-events server)))
        (setq applied t)
        (when (member (plist-get event :type) drover--gate-event-types)
          (setq gates t))))
    (when applied
      (drover--fetch-run server id)
      (when gates (drover--refresh-inbox server)))))

(defun drover-run-events (run-id &optional root)
  "The events of RUN-ID this Emacs has received, oldest first.
ROOT is the workspace root (default: the current one)."
  (when-let ((server (gethash (or root (drover--root)) drover--servers)))
    (reverse (gethash run-id (drover--server-events server)))))

(defun drover--store-run (server run)
  "Cache RUN on SERVER unless a newer state of it is cached."
  (let* ((runs (drover--server-runs server))
         (old (gethash (plist-get run :id) runs)))
    (when (or (null old) (>= (plist-get run :lastSeq) (plist-get old :lastSeq)))
      (puthash (plist-get run :id) run runs)
      (drover--changed server))))

(defun drover--fetch-run (server id)
  "Refresh run ID from SERVER with `run/get', one request at a time."
  (let ((fetching (drover--server-fetching server)))
    (if (gethash id fetching)
        (puthash id 'again fetching)
      (puthash id 'busy fetching)
      (drover--request
       server "run/get" (list :runId id)
       (lambda (result)
         (let ((again (eq (gethash id fetching) 'again)))
           (remhash id fetching)
           (drover--store-run server (plist-get result :run))
           (when again (drover--fetch-run server id))))
       (lambda (err)
         (remhash id fetching)
         (unless (eql (plist-get err :code) -1)
           (drover--message "run/get failed: %s" (plist-get err :message))))))))

(defun drover--refresh-runs (server)
  "Refresh SERVER's run cache from `run/list'."
  (drover--request server "run/list" (list :limit 100)
                   (lambda (result)
                     (let ((runs (drover--server-runs server)))
                       (seq-doseq (run (plist-get result :runs))
                         (let ((old (gethash (plist-get run :id) runs)))
                           ;; `run/list' has no outputs: keep a full run of the same state.
                           (when (or (null old) (> (plist-get run :lastSeq) (plist-get old :lastSeq)))
                             (puthash (plist-get run :id) run runs)))))
                     (drover--changed server))))

(defun drover--refresh-inbox (server)
  "Refresh SERVER's open gates from `inbox/list', one request at a time."
  (if (drover--server-inbox-state server)
      (setf (drover--server-inbox-state server) 'again)
    (setf (drover--server-inbox-state server) 'busy)
    (drover--request
     server "inbox/list" nil
     (lambda (result)
       (let ((again (eq (drover--server-inbox-state server) 'again))
             (items (append (plist-get result :items) nil)))
         (setf (drover--server-inbox-state server) nil)
         (setf (drover--server-inbox server) items)
         (dolist (item items)
           (let ((key (concat (plist-get item :runId) "/" (plist-get item :id))))
             (unless (or (gethash key (drover--server-seen-gates server))
                         (not (drover--answerable-p item)))
               (puthash key t (drover--server-seen-gates server))
               (drover--announce-gate item))))
         (drover--changed server)
         (force-mode-line-update t)
         (when again (drover--refresh-inbox server))))
     (lambda (err)
       (setf (drover--server-inbox-state server) nil)
       (unless (eql (plist-get err :code) -1)
         (drover--message "inbox/list failed: %s" (plist-get err :message)))))))

(defun drover--answerable-p (item)
  "Non-nil when the inbox ITEM is a decision or an approval, for a person.
A parent waiting on its children, or a kind newer than this package, is not."
  (member (plist-get item :kind) '("decision" "approval")))

(defun drover--children-summary (children)
  "Count CHILDREN by status, as text.
CHILDREN are runs or inbox children.
For example \"2 child runs: 1 done, 1 running\"."
  (let ((order (list "done" "running" "blocked" "queued" "paused" "failed" "cancelled"))
        (counts nil))
    (seq-doseq (child children)
      (let ((status (or (plist-get child :status) "unknown")))
        (unless (member status order) (setq order (append order (list status))))
        (setf (alist-get status counts nil nil #'equal) (1+ (alist-get status counts 0 nil #'equal)))))
    (format "%d child run%s: %s" (length children) (if (= (length children) 1) "" "s")
            (mapconcat (lambda (status) (format "%d %s" (alist-get status counts 0 nil #'equal) status))
                       (seq-filter (lambda (status) (alist-get status counts nil nil #'equal)) order)
                       ", "))))

(defun drover--gate-summary (item)
  "One line describing the inbox ITEM."
  (pcase (plist-get item :kind)
    ("decision" (format "%s asks: %s" (plist-get item :stepId) (plist-get item :question)))
    ("approval" (format "%s waits for approval" (plist-get item :stepId)))
    ("children" (format "%s waits on %s" (plist-get item :stepId)
                        (drover--children-summary (plist-get item :children))))
    (kind (format "%s: %s %s" (plist-get item :stepId) kind (plist-get item :id)))))

(defun drover--announce-gate (item)
  "Tell the user that the gate ITEM opened."
  (let ((text (format "run %s: %s (M-x drover-inbox)"
                      (plist-get item :runId) (drover--gate-summary item))))
    (drover--message "%s" text)
    (when (and drover-desktop-notifications
               (featurep 'dbusbind)
               (require 'notifications nil t))
      (ignore-errors (notifications-notify :title "Drover" :body text)))))

(defun drover--changed (server)
  "Redraw the buffers of SERVER soon, once for a burst of events."
  (unless (drover--server-refresh-timer server)
    (setf (drover--server-refresh-timer server)
          (run-at-time 0.05 nil #'drover--redraw server))))

(defun drover--redraw (server)
  "Redraw every Drover buffer of SERVER now."
  (setf (drover--server-refresh-timer server) nil)
  (dolist (buffer (buffer-list))
    (with-current-buffer buffer
      (when (and drover--refresh-function
                 (equal drover--buffer-root (drover--server-root server)))
        (with-demoted-errors "drover: error redrawing: %S"
          (funcall drover--refresh-function)))))
  (force-mode-line-update t))

;;;; Helpers for views

(defun drover--status-face (status)
  "The face for the run or step STATUS."
  (pcase status
    ((or "running" "working") 'drover-status-running)
    ((or "blocked" "waiting" "paused") 'drover-status-blocked)
    ("done" 'drover-status-done)
    ("failed" 'drover-status-failed)
    (_ 'drover-status-other)))

(defun drover--age (timestamp)
  "How long ago TIMESTAMP (ISO 8601) was, shortly."
  (let ((seconds (if (stringp timestamp)
                     (max 0 (floor (float-time (time-since (parse-iso8601-time-string timestamp)))))
                   0)))
    (cond ((< seconds 60) (format "%ds" seconds))
          ((< seconds 3600) (format "%dm" (/ seconds 60)))
          ((< seconds 86400) (format "%dh" (/ seconds 3600)))
          (t (format "%dd" (/ seconds 86400))))))

(defun drover--cost (run)
  "RUN's cost as text, or \"\" when nothing was recorded."
  (let* ((usage (plist-get run :usage))
         (cost (or (plist-get usage :costUSD) 0))
         (tokens (+ (or (plist-get usage :inputTokens) 0) (or (plist-get usage :outputTokens) 0))))
    (cond ((> cost 0) (format "$%.2f" cost))
          ((> tokens 0) (format "%d tok" tokens))
          (t ""))))

(defun drover--runs-sorted (server)
  "Return the cached run objects of SERVER, newest first."
  (let (runs)
    (maphash (lambda (_id run) (push run runs)) (drover--server-runs server))
    (sort runs (lambda (a b) (string> (plist-get a :id) (plist-get b :id))))))

(defun drover--get-run (server id)
  "The cached run ID of SERVER, or nil."
  (gethash id (drover--server-runs server)))

(defun drover--read-run (server)
  "Ask for a run of SERVER; return its id."
  (let ((ids (mapcar (lambda (run) (plist-get run :id)) (drover--runs-sorted server))))
    (unless ids (user-error "Drover: no runs yet (M-x drover-runs lists them)"))
    (completing-read "Run: " ids nil t nil nil (car ids))))

(defvar-local drover--run-id nil
  "The run shown in a run or log buffer.")

(defun drover--context-run ()
  "The run at point or of the current buffer, or nil."
  (or (and (derived-mode-p 'drover-runs-mode) (tabulated-list-get-id))
      (get-text-property (point) 'drover-run)
      drover--run-id))

(defun drover--ensure-method (server method)
  "Signal a `user-error' unless SERVER has METHOD."
  (unless (drover--has-method server method)
    (user-error "Drover: this server does not offer %s" method)))

;;;; Starting runs and trust

(defun drover--pipeline-table (pipelines)
  "A completion table of PIPELINES with their descriptions as annotations."
  (let ((by-id (mapcar (lambda (p) (cons (plist-get p :id) p)) pipelines)))
    (lambda (string predicate action)
      (if (eq action 'metadata)
          `(metadata
            (category . drover-pipeline)
            (annotation-function
             . ,(lambda (id)
                  (let* ((p (cdr (assoc id by-id)))
                         (errors (plist-get p :errors)))
                    (concat " " (propertize (or (plist-get p :description) (plist-get p :name) "")
                                            'face 'completions-annotations)
                            (if (> (length errors) 0)
                                (propertize " [invalid]" 'face 'error)
                              ""))))))
        (complete-with-action action by-id string predicate)))))

(defun drover--later (function)
  "Call FUNCTION soon, outside any process filter, allowing \\[keyboard-quit]."
  (run-at-time 0 nil (lambda () (with-local-quit (funcall function)))))

;;;###autoload
(defun drover-run (&optional task-default)
  "Start a run: ask for a pipeline (with its description), then a task.
The task defaults to TASK-DEFAULT, interactively the active region.
The run buffer opens once the server has started the run."
  (interactive (list (when (use-region-p)
                       (buffer-substring-no-properties (region-beginning) (region-end)))))
  (let ((server (drover--server)))
    (drover--request
     server "pipeline/list" nil
     (lambda (result)
       (drover--later
        (lambda ()
          (let* ((pipelines (append (plist-get result :pipelines) nil))
                 (id (completing-read "Pipeline: " (drover--pipeline-table pipelines) nil t))
                 (pipeline (seq-find (lambda (p) (equal (plist-get p :id) id)) pipelines))
                 (errors (append (plist-get pipeline :errors) nil)))
            (if errors
                (drover--message "pipeline %s cannot run: %s" id (string-join errors "; "))
              (let ((task (read-string (if task-default
                                           (format "Task (default %s): "
                                                   (truncate-string-to-width
                                                    (car (split-string task-default "\n")) 30 nil nil "…"))
                                         "Task: ")
                                       nil nil task-default)))
                (drover--start-run server id task))))))))))

(defun drover--start-run (server pipeline-id task)
  "Ask SERVER to start PIPELINE-ID on TASK; offer trust if it is needed."
  (drover--request
   server "run/start" (list :pipelineId pipeline-id :task task)
   (lambda (result)
     (let ((run (plist-get result :run)))
       (drover--store-run server run)
       (drover--message "started %s (%s)" (plist-get run :id) pipeline-id)
       (pop-to-buffer (drover--run-buffer server (plist-get run :id)))))
   (lambda (err)
     (if (eql (plist-get err :code) -33003)
         (drover--later
          (lambda ()
            (if (drover--ask-trust server (plist-get err :message))
                (drover--trust server t (lambda () (drover--start-run server pipeline-id task)))
              (drover--message "not started: the workspace is not trusted"))))
       (drover--message "run/start failed: %s" (plist-get err :message))))))

(defun drover--ask-trust (server &optional why)
  "Ask whether to trust the workspace of SERVER, explaining WHY if non-nil."
  (yes-or-no-p
   (format "%sIts pipelines and config can run commands.  Trust the workspace %s? "
           (if why (concat why "\n") "")
           (abbreviate-file-name (drover--server-root server)))))

(defun drover--trust (server trusted &optional then)
  "Record on SERVER that the workspace is TRUSTED (or not), then call THEN."
  (drover--request server "workspace/trust" (list :trusted (if trusted t :json-false))
                   (lambda (result)
                     (drover--message "workspace %s"
                                      (if (eq (plist-get result :trusted) t) "trusted" "not trusted"))
                     (when then (funcall then)))))

;;;###autoload
(defun drover-trust (&optional revoke)
  "Trust the current workspace, after asking; with prefix arg REVOKE, withdraw it.
A trusted workspace's own pipelines and agent configuration may run."
  (interactive "P")
  (let ((server (drover--server)))
    (if revoke
        (drover--trust server nil)
      (when (drover--ask-trust server)
        (drover--trust server t)))))

;;;; The run list

(defvar drover-runs-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'drover-open-run)
    (define-key map "+" #'drover-run)
    (define-key map "c" #'drover-cancel)
    (define-key map "r" #'drover-retry)
    (define-key map "R" #'drover-restart)
    (define-key map "l" #'drover-log)
    (define-key map "d" #'drover-diff)
    (define-key map "a" #'drover-apply)
    (define-key map "i" #'drover-inbox)
    (define-key map "g" #'drover-refresh)
    map)
  "Keymap of `drover-runs-mode'.")

(define-derived-mode drover-runs-mode tabulated-list-mode "Drover Runs"
  "The runs of a workspace, refreshed live.
\\{drover-runs-mode-map}"
  (setq tabulated-list-format [("Id" 28 nil) ("Pipeline" 12 nil) ("Status" 10 nil)
                               ("Step" 10 nil) ("Age" 6 nil) ("Cost" 8 nil) ("Children" 30 nil)])
  (setq tabulated-list-padding 1)
  (setq drover--refresh-function #'drover--runs-render)
  (tabulated-list-init-header))

(defun drover--children-of (server run)
  "Return the cached children of RUN on SERVER.
First in the order its steps list them, then any others."
  (let* ((order (apply #'append (mapcar (lambda (step) (append (plist-get step :children) nil))
                                        (plist-get run :steps))))
         (children (seq-filter (lambda (other) (equal (plist-get other :parentRunId) (plist-get run :id)))
                               (drover--runs-sorted server))))
    (sort children (lambda (a b)
                     (let ((ia (or (seq-position order (plist-get a :id)) most-positive-fixnum))
                           (ib (or (seq-position order (plist-get b :id)) most-positive-fixnum)))
                       (if (= ia ib) (string< (plist-get a :id) (plist-get b :id)) (< ia ib)))))))

(defun drover--runs-entries (server run depth)
  "Return the list entries of RUN on SERVER and, nested below it, its children.
DEPTH is how deep RUN is nested (0: not a child of a listed run)."
  (let* ((status (plist-get run :status))
         (children (drover--children-of server run))
         (entry (list (plist-get run :id)
                      (vector (concat (if (> depth 0) (concat (make-string (* 2 depth) ?\s) "↳ ") "")
                                      (plist-get run :id))
                              (plist-get run :pipelineId)
                              (propertize status 'face (drover--status-face status))
                              (or (plist-get run :currentStep) "")
                              (drover--age (plist-get run :createdAt))
                              (drover--cost run)
                              (if children (drover--children-summary children) "")))))
    (cons entry (apply #'append (mapcar (lambda (child) (drover--runs-entries server child (1+ depth)))
                                        children)))))

(defun drover--runs-render ()
  "Redraw the run list from the cache.
A child run (fan-out) is listed under its parent, indented with ↳."
  (let ((server (gethash drover--buffer-root drover--servers)))
    (setq tabulated-list-entries
          (and server
               (apply #'append
                      (mapcar (lambda (run) (drover--runs-entries server run 0))
                              (seq-remove (lambda (run)
                                            (let ((parent (plist-get run :parentRunId)))
                                              (and parent (drover--get-run server parent))))
                                          (drover--runs-sorted server))))))
    (tabulated-list-print t)))

(defun drover--workspace-buffer (name mode server)
  "The buffer \"*drover NAME: <workspace>*\" of SERVER, in MODE.
Its `default-directory' is the workspace."
  (let ((buffer (get-buffer-create
                 (format "*drover %s: %s*" name
                         (file-name-nondirectory (directory-file-name (drover--server-root server)))))))
    (with-current-buffer buffer
      (unless (derived-mode-p mode) (funcall mode))
      (setq drover--buffer-root (drover--server-root server))
      (setq default-directory drover--buffer-root))
    buffer))

;;;###autoload
(defun drover-runs ()
  "Show a live list of the run objects of the workspace.
Columns: id, pipeline, status, step, age, cost."
  (interactive)
  (let* ((server (drover--server))
         (buffer (drover--workspace-buffer "runs" #'drover-runs-mode server)))
    (with-current-buffer buffer (drover--runs-render))
    (drover--refresh-runs server)
    (pop-to-buffer buffer)
    buffer))

(defun drover-open-run (run-id)
  "Open the buffer of the run RUN-ID (the one at point)."
  (interactive (list (or (drover--context-run) (drover--read-run (drover--server)))))
  (pop-to-buffer (drover--run-buffer (drover--server) run-id)))

(defun drover-refresh ()
  "Ask the server again for the run list, the gates and the current run."
  (interactive)
  (let ((server (drover--server)))
    (drover--refresh-runs server)
    (drover--refresh-inbox server)
    (when drover--run-id (drover--fetch-run server drover--run-id))))

;;;; Run actions

(defun drover--run-action (method run-id &optional params done)
  "Send METHOD for RUN-ID with extra PARAMS; say DONE when it succeeded."
  (let ((server (drover--server)))
    (drover--ensure-method server method)
    (drover--request server method (append (list :runId run-id) params)
                     (lambda (result)
                       (drover--store-run server (plist-get result :run))
                       (drover--message "%s: %s" run-id (or done method))))))

(defun drover-cancel (run-id)
  "Cancel the run RUN-ID, after asking."
  (interactive (list (or (drover--context-run) (drover--read-run (drover--server)))))
  (when (y-or-n-p (format "Cancel run %s? " run-id))
    (drover--run-action "run/cancel" run-id nil "cancelled")))

(defun drover-retry (run-id)
  "Retry the failed or cancelled run RUN-ID from its first step not done."
  (interactive (list (or (drover--context-run) (drover--read-run (drover--server)))))
  (drover--run-action "run/retry" run-id nil "retried"))

(defun drover-restart (run-id step-id)
  "Re-run the run RUN-ID from STEP-ID (asked for)."
  (interactive
   (let* ((server (drover--server))
          (id (or (drover--context-run) (drover--read-run server)))
          (run (drover--get-run server id)))
     (list id (completing-read "Restart from step: "
                               (mapcar (lambda (s) (plist-get s :id)) (plist-get run :steps))
                               nil t))))
  (drover--run-action "run/restart" run-id (list :fromStep step-id)
                      (format "restarted from %s" step-id)))

;;;; Diff and apply

(defvar-local drover--diff nil
  "The `run/diff' result shown in a diff buffer.")

(defvar-local drover--diff-step nil
  "The step whose change a diff buffer shows, or nil for the whole run.")

(defvar drover-diff-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map special-mode-map)
    (define-key map (kbd "RET") #'drover-diff-file)
    (define-key map "P" #'drover-diff-patch)
    (define-key map "a" #'drover-apply)
    (define-key map "g" #'drover-diff-refresh)
    (define-key map "n" #'next-line)
    (define-key map "p" #'previous-line)
    map)
  "Keymap of `drover-diff-mode'.")

(define-derived-mode drover-diff-mode special-mode "Drover Diff"
  "The files a run changed, from `run/diff'; RET shows a file's patch.
\\{drover-diff-mode-map}"
  (setq truncate-lines t))

(defun drover--short-sha (sha)
  "The first seven characters of SHA, or \"?\"."
  (if (stringp sha) (substring sha 0 (min 7 (length sha))) "?"))

(defun drover--diff-render ()
  "Draw the file list of the current diff buffer from `drover--diff'."
  (let* ((inhibit-read-only t)
         (files (append (plist-get drover--diff :files) nil))
         (adds (apply #'+ 0 (mapcar (lambda (f) (or (plist-get f :additions) 0)) files)))
         (dels (apply #'+ 0 (mapcar (lambda (f) (or (plist-get f :deletions) 0)) files))))
    (erase-buffer)
    (insert (propertize (format "Diff of run %s%s" drover--run-id
                                (if drover--diff-step (format ", step %s" drover--diff-step) ""))
                        'face 'drover-heading)
            (format "  %s..%s  %d file%s, +%d -%d\n"
                    (drover--short-sha (plist-get drover--diff :from))
                    (drover--short-sha (plist-get drover--diff :to))
                    (length files) (if (= (length files) 1) "" "s") adds dels)
            "RET patch of the file  P whole patch  a apply  g refresh\n\n")
    (unless files
      (insert (if drover--diff-step "This step committed nothing.\n"
                "No changes: the run committed nothing yet.\n")))
    (dolist (file files)
      (let ((start (point))
            (status (plist-get file :status))
            (old (plist-get file :oldPath)))
        (insert (format "%s %-9s %s%s  %s\n"
                        (pcase status ("added" "A") ("modified" "M") ("deleted" "D") ("renamed" "R") (_ "?"))
                        status (plist-get file :path)
                        (if (and old (not (equal old (plist-get file :path)))) (concat " <- " old) "")
                        (if (eq (plist-get file :binary) t) "binary"
                          (format "+%d -%d" (or (plist-get file :additions) 0)
                                  (or (plist-get file :deletions) 0)))))
        (put-text-property start (point) 'drover-file file)))
    (goto-char (point-min))
    (when files (forward-line 3))))

(defun drover--diff-directory (server run-id)
  "The folder of the files in RUN-ID's diff, on SERVER.
The run's worktree while it exists, else the workspace."
  (let* ((ws (plist-get (drover--get-run server run-id) :workspace))
         (path (plist-get ws :path)))
    (if (and path (not (eq (plist-get ws :removed) t)) (file-directory-p path))
        (file-name-as-directory path)
      (drover--server-root server))))

(defun drover--show-patch (name text directory)
  "Show TEXT in the read-only `diff-mode' buffer NAME.
Files named in the patch are visited from DIRECTORY."
  (let ((buffer (get-buffer-create name)))
    (with-current-buffer buffer
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert (if (equal text "") "(empty patch)\n" text))
        (diff-mode)
        (setq default-directory directory)
        (setq buffer-read-only t)
        (goto-char (point-min))))
    (pop-to-buffer buffer)
    buffer))

;;;###autoload
(defun drover-diff (run-id &optional step-id)
  "Show what the run RUN-ID changed (needs run/diff), or only STEP-ID's commits.
One line per file with its status and +/- counts; RET on a file shows its
patch in a `diff-mode' buffer, P the whole patch.  Interactively, STEP-ID
is the step at point in a run buffer."
  (interactive (list (or (drover--context-run) (drover--read-run (drover--server)))
                     (and (derived-mode-p 'drover-run-mode) (get-text-property (point) 'drover-step))))
  (let ((server (drover--server)))
    (drover--ensure-method server "run/diff")
    (drover--request server "run/diff" (append (list :runId run-id) (and step-id (list :stepId step-id)))
                     (lambda (result)
                       (let ((buffer (get-buffer-create
                                      (format "*drover diff %s%s*" run-id (if step-id (concat " " step-id) "")))))
                         (with-current-buffer buffer
                           (unless (derived-mode-p 'drover-diff-mode) (drover-diff-mode))
                           (setq drover--buffer-root (drover--server-root server))
                           (setq default-directory drover--buffer-root)
                           (setq drover--run-id run-id
                                 drover--diff-step step-id
                                 drover--diff result)
                           (drover--diff-render))
                         (pop-to-buffer buffer))))))

(defun drover-diff-refresh ()
  "Ask the server again for the change shown in this diff buffer."
  (interactive)
  (drover-diff drover--run-id drover--diff-step))

(defun drover-diff-file ()
  "Show the patch of the file at point in a `diff-mode' buffer."
  (interactive)
  (let ((file (get-text-property (point) 'drover-file)))
    (unless file (user-error "Drover: no file on this line"))
    (drover--show-patch (format "*drover diff %s: %s*" drover--run-id (plist-get file :path))
                        (or (plist-get file :patch) "")
                        (drover--diff-directory (drover--server) drover--run-id))))

(defun drover-diff-patch ()
  "Show the whole patch of this diff buffer's run in a `diff-mode' buffer."
  (interactive)
  (drover--show-patch (format "*drover patch %s*" drover--run-id)
                      (or (plist-get drover--diff :patch) "")
                      (drover--diff-directory (drover--server) drover--run-id)))

(defconst drover--apply-strategies
  '(("merge" . "git merge --no-ff of the run's branch; its step commits stay in your history")
    ("squash" . "one commit on your branch with the whole change")
    ("patch" . "the change written into your working tree, not committed"))
  "The strategies of `run/apply' with what each does.")

(defun drover--read-strategy (run-id)
  "Ask how to apply RUN-ID, with `completing-read' over the strategies."
  (completing-read
   (format "Apply %s with (merge, squash, patch): " run-id)
   (lambda (string predicate action)
     (if (eq action 'metadata)
         `(metadata (annotation-function
                     . ,(lambda (s) (concat "  " (propertize (or (cdr (assoc s drover--apply-strategies)) "")
                                                            'face 'completions-annotations)))))
       (complete-with-action action drover--apply-strategies string predicate)))
   nil t nil nil "merge"))

(defun drover--apply-refused (server run-id err)
  "Tell the user why applying RUN-ID of SERVER was refused (ERR, a -33002).
The files it names are listed in the buffer *drover apply* too, as buttons."
  (let* ((data (plist-get err :data))
         (files (append (plist-get data :files) nil)))
    (drover--message "apply refused: %s%s" (plist-get err :message)
                     (if files (format "\nFiles: %s" (string-join files ", ")) ""))
    (when files
      (with-current-buffer (get-buffer-create "*drover apply*")
        (let ((inhibit-read-only t))
          (erase-buffer)
          (insert (format "Run %s was not applied (%s):\n%s\n\nFiles:\n" run-id
                          (or (plist-get data :reason) "refused") (plist-get err :message)))
          (dolist (file files)
            (insert "  ")
            (insert-text-button file 'action (let ((f file)) (lambda (_) (find-file f))) 'follow-link t)
            (insert "\n"))
          (special-mode)
          (setq default-directory (drover--server-root server)))
        (display-buffer (current-buffer))))))

(defun drover-apply (run-id strategy)
  "Bring the done run RUN-ID onto the workspace's branch with STRATEGY.
Needs run/apply.  STRATEGY is merge, squash or patch (asked); you
confirm before it is sent.
A refusal (your uncommitted changes to files the run changed, a conflict)
is shown with its files; nothing in your tree changes then."
  (interactive
   (let ((server (drover--server)))
     (drover--ensure-method server "run/apply")
     (let ((id (or (drover--context-run) (drover--read-run server))))
       (list id (drover--read-strategy id)))))
  (let ((server (drover--server)))
    (drover--ensure-method server "run/apply")
    (if (not (yes-or-no-p (format "Apply run %s to your branch in %s with %s? " run-id
                                  (abbreviate-file-name (drover--server-root server)) strategy)))
        (drover--message "run %s not applied" run-id)
      (drover--request server "run/apply" (list :runId run-id :strategy strategy)
                       (lambda (result)
                         (let* ((run (plist-get result :run))
                                (applied (plist-get (plist-get run :workspace) :applied)))
                           (drover--store-run server run)
                           (drover--message "applied run %s (%s%s%s)" run-id
                                            (or (plist-get applied :strategy) strategy)
                                            (if (plist-get applied :into) (concat " into " (plist-get applied :into)) "")
                                            (if (plist-get applied :commit)
                                                (concat ", commit " (drover--short-sha (plist-get applied :commit)))
                                              ""))))
                       (lambda (err)
                         (if (eql (plist-get err :code) -33002)
                             (drover--apply-refused server run-id err)
                           (drover--message "run/apply failed: %s" (plist-get err :message))))))))

;;;; The run buffer

(defvar drover-run-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map special-mode-map)
    (define-key map (kbd "RET") #'drover-run-dwim)
    (define-key map "c" #'drover-cancel)
    (define-key map "r" #'drover-retry)
    (define-key map "R" #'drover-restart)
    (define-key map "l" #'drover-log)
    (define-key map "d" #'drover-diff)
    (define-key map "a" #'drover-apply)
    (define-key map "i" #'drover-inbox)
    (define-key map "g" #'drover-refresh)
    map)
  "Keymap of `drover-run-mode'.")

(define-derived-mode drover-run-mode special-mode "Drover Run"
  "A run: its steps, outputs, open gate, failure and hint, updated live.
\\{drover-run-mode-map}"
  (setq truncate-lines nil)
  (setq drover--refresh-function #'drover--run-render))

(defun drover--run-buffer (server run-id)
  "The buffer showing RUN-ID of SERVER, drawn and refreshed."
  (let ((buffer (get-buffer-create (format "*drover run %s*" run-id))))
    (with-current-buffer buffer
      (unless (derived-mode-p 'drover-run-mode) (drover-run-mode))
      (setq drover--buffer-root (drover--server-root server))
      (setq default-directory drover--buffer-root)
      (setq drover--run-id run-id)
      (drover--run-render))
    (drover--fetch-run server run-id)
    ;; Its commits, review rounds, consensus answers and merges are events, not part of the Run.
    (drover--catch-up server run-id)
    buffer))

(defun drover--indent (text)
  "TEXT with every line indented by four spaces."
  (replace-regexp-in-string "^" "    " (string-trim-right (or text ""))))

(defun drover--key-hints (server)
  "Return the key hints of a run buffer, for the methods of SERVER."
  (string-join
   (delq nil (list "RET gate/log" "l log" "i inbox" "g refresh"
                   (and (drover--has-method server "run/cancel") "c cancel")
                   (and (drover--has-method server "run/retry") "r retry")
                   (and (drover--has-method server "run/restart") "R restart")
                   (and (drover--has-method server "run/diff") "d diff")
                   (and (drover--has-method server "run/apply") "a apply")))
   "  "))

(defun drover--run-render ()
  "Redraw the run buffer from the cache."
  (let* ((server (gethash drover--buffer-root drover--servers))
         (run (and server (drover--get-run server drover--run-id)))
         (line (line-number-at-pos))
         (inhibit-read-only t))
    (setq header-line-format (and server (drover--key-hints server)))
    (erase-buffer)
    (if (not run)
        (insert (format "Run %s: loading…\n" drover--run-id))
      (let ((status (plist-get run :status)) (usage (plist-get run :usage)))
        (insert (propertize (format "Run %s" (plist-get run :id)) 'face 'drover-heading) "\n"
                (format "Pipeline: %s\nTask:     %s\nStatus:   %s\nCreated:  %s (%s ago)\nUsage:    %d in, %d out, $%.4f\n"
                        (plist-get run :pipelineId)
                        (plist-get run :task)
                        (propertize status 'face (drover--status-face status))
                        (plist-get run :createdAt) (drover--age (plist-get run :createdAt))
                        (or (plist-get usage :inputTokens) 0) (or (plist-get usage :outputTokens) 0)
                        (or (plist-get usage :costUSD) 0))))
      (when-let ((parent (plist-get run :parentRunId)))
        (insert (propertize (format "Parent:   %s (step %s)  RET opens it\n" parent (plist-get run :parentStepId))
                            'drover-open-run parent)))
      (when-let ((ws (plist-get run :workspace)))
        (if (equal (plist-get ws :isolation) "worktree")
            (insert (format "Worktree: %s%s\nBranch:   %s from %s%s\n" (plist-get ws :path)
                            (if (eq (plist-get ws :removed) t) " (removed)" "")
                            (plist-get ws :branch) (or (plist-get ws :base) "HEAD")
                            (if (plist-get ws :baseCommit)
                                (format " (%s)" (drover--short-sha (plist-get ws :baseCommit))) "")))
          (insert (format "Workspace: %s (no isolation%s)\n" (plist-get ws :path)
                          (if (plist-get ws :note) (concat ": " (plist-get ws :note)) ""))))
        (when-let ((applied (plist-get ws :applied)))
          (insert (format "Applied:  %s%s%s\n" (plist-get applied :strategy)
                          (if (plist-get applied :into) (concat " into " (plist-get applied :into)) "")
                          (if (plist-get applied :commit)
                              (concat ", commit " (drover--short-sha (plist-get applied :commit))) "")))))
      (when-let ((failure (plist-get run :failure)))
        (insert "\n" (propertize (format "Failed (%s): %s" (plist-get failure :kind) (plist-get failure :message))
                                 'face 'drover-status-failed)
                "\n" (format "Hint: %s\n" (plist-get failure :hint))))
      (insert "\n" (propertize "Steps" 'face 'drover-heading) "\n")
      (seq-doseq (step (plist-get run :steps))
        (let ((start (point)) (state (plist-get step :state)))
          (insert (format "  %-8s %s (%s%s), attempts %d\n"
                          (propertize state 'face (drover--status-face state))
                          (plist-get step :id) (plist-get step :kind)
                          (if (plist-get step :role) (concat ", " (plist-get step :role)) "")
                          (plist-get step :attempts)))
          (dolist (event (drover-run-events (plist-get run :id) drover--buffer-root))
            (let ((data (plist-get event :data)))
              (when (and (equal (plist-get event :type) "step.committed")
                         (equal (plist-get data :stepId) (plist-get step :id)))
                (insert (format "    commit %s (attempt %s): %d file%s, +%d -%d\n"
                                (drover--short-sha (plist-get data :sha)) (plist-get data :attempt)
                                (or (plist-get data :files) 0) (if (eql (plist-get data :files) 1) "" "s")
                                (or (plist-get data :insertions) 0) (or (plist-get data :deletions) 0))))))
          (when-let ((decision (plist-get step :decision)))
            (insert (format "    decision %s: %s [%s]%s\n" (plist-get decision :id)
                            (plist-get decision :question)
                            (string-join (append (plist-get decision :options) nil) " / ")
                            (if (plist-get decision :chosen)
                                (format " → %s" (plist-get decision :chosen))
                              (propertize " (open: RET to answer)" 'face 'drover-status-blocked)))))
          (when-let ((approval (plist-get step :approval)))
            (insert (format "    approval %s: %s%s\n" (plist-get approval :id)
                            (propertize (plist-get approval :status)
                                        'face (if (equal (plist-get approval :status) "pending")
                                                  'drover-status-blocked 'drover-status-other))
                            (if (equal (plist-get approval :status) "pending")
                                " (RET to answer)" "")))
            (when (plist-get approval :feedback)
              (insert (format "    feedback: %s\n" (plist-get approval :feedback))))
            (when-let ((review (plist-get approval :review)))
              (drover--insert-verdict (format "    review by %s, " (plist-get review :stepId)) review)))
          (drover--insert-step-history server run step)
          (when (plist-get step :output)
            (insert "    output:\n" (drover--indent (plist-get step :output)) "\n"))
          (put-text-property start (point) 'drover-step (plist-get step :id)))))
    (goto-char (point-min))
    (forward-line (1- line))))

(defun drover--insert-verdict (lead verdict)
  "Insert the review VERDICT after LEAD.
VERDICT is a `review.verdict' event's data or an approval's review."
  (insert (format "%sround %s: score %.2f (needs %.2f) %s\n" lead (plist-get verdict :round)
                  (or (plist-get verdict :score) 0) (or (plist-get verdict :threshold) 0)
                  (if (eq (plist-get verdict :passed) t) "passed" "below the threshold")))
  (seq-doseq (finding (plist-get verdict :findings))
    (insert (format "      - %s\n" finding))))

(defun drover--first-line (text)
  "The first line of TEXT without surrounding blanks."
  (car (split-string (string-trim (or text "")) "\n")))

(defun drover--insert-step-history (server run step)
  "Insert what the events of RUN on SERVER tell about STEP beyond the Run.
Review rounds, consensus answers and the winner, and a fan-out's child runs
\(each line has the `drover-open-run' property: RET opens that run)."
  (let ((step-id (plist-get step :id)) (merges nil))
    (dolist (event (drover-run-events (plist-get run :id) drover--buffer-root))
      (let ((data (plist-get event :data)))
        (when (equal (plist-get data :stepId) step-id)
          (pcase (plist-get event :type)
            ("review.verdict"
             (drover--insert-verdict (format "    review of %s, " (plist-get data :reviews)) data))
            ("review.malformed"
             (insert (format "    review attempt %s: not a verdict (%s): %s\n" (plist-get data :attempt)
                             (drover--first-line (plist-get data :problem)) (drover--first-line (plist-get data :text)))))
            ("consensus.candidate"
             ;; a role that failed (or timed out, asked, was rate limited) gave no answer: its failure says why
             (let ((failure (plist-get data :failure)))
               (insert (format "    candidate %s (attempt %s): %s%s\n" (plist-get data :role) (plist-get data :attempt)
                               (if failure
                                   (format "no answer (%s): %s" (plist-get failure :kind)
                                           (drover--first-line (plist-get failure :message)))
                                 (drover--first-line (plist-get data :output)))
                               (if (plist-get data :commit)
                                   (format " (commit %s)" (drover--short-sha (plist-get data :commit))) "")))))
            ("consensus.decided"
             (insert (format "    * %s won (%s)%s: %s%s\n" (plist-get data :winner) (plist-get data :strategy)
                             (if (plist-get data :reasons) (concat " — " (drover--first-line (plist-get data :reasons))) "")
                             (drover--first-line (plist-get data :output))
                             (if (plist-get data :changesFrom)
                                 (format "   (changes from %s)" (plist-get data :changesFrom)) ""))))
            ("child.merged" (push (cons (plist-get data :childRunId) data) merges))))))
    (when-let ((ids (append (plist-get step :children) nil)))
      (let ((children (mapcar (lambda (id) (or (drover--get-run server id) (list :id id :status "?" :task "")))
                              ids)))
        (insert (format "    %s  (RET on one opens it)\n" (drover--children-summary children)))
        (dolist (child children)
          (let ((merge (cdr (assoc (plist-get child :id) merges)))
                (status (plist-get child :status)))
            (insert (propertize
                     (format "      ↳ %-9s %s  %s%s\n" (propertize status 'face (drover--status-face status))
                             (plist-get child :id) (drover--first-line (plist-get child :task))
                             (if merge
                                 (format " — %s%s" (plist-get merge :outcome)
                                         (if (plist-get merge :commit)
                                             (concat " " (drover--short-sha (plist-get merge :commit))) ""))
                               ""))
                     'drover-open-run (plist-get child :id)))))))))

(defun drover--step-gate-item (run step)
  "The open gate of STEP in RUN as an inbox item, or nil."
  (let ((decision (plist-get step :decision))
        (approval (plist-get step :approval)))
    (cond
     ((and decision (not (plist-get decision :chosen))
           (equal (plist-get step :state) "waiting"))
      (list :runId (plist-get run :id) :stepId (plist-get step :id) :kind "decision"
            :id (plist-get decision :id) :question (plist-get decision :question)
            :options (plist-get decision :options)))
     ((and approval (equal (plist-get approval :status) "pending"))
      (list :runId (plist-get run :id) :stepId (plist-get step :id) :kind "approval"
            :id (plist-get approval :id) :proposal (plist-get approval :proposal))))))

(defun drover-run-dwim ()
  "Open the child or parent run at point.
Elsewhere answer the step's open gate, or follow its log."
  (interactive)
  (if-let ((other (get-text-property (point) 'drover-open-run)))
      (drover-open-run other)
    (drover--run-dwim-step)))

(defun drover--run-dwim-step ()
  "Answer the open gate of the step at point, or follow its log."
  (let* ((server (drover--server))
         (run (drover--get-run server drover--run-id))
         (step-id (get-text-property (point) 'drover-step))
         (step (seq-find (lambda (s) (equal (plist-get s :id) step-id)) (plist-get run :steps)))
         (item (and step (drover--step-gate-item run step))))
    (cond (item (drover--answer item))
          (step-id (drover-log drover--run-id step-id))
          (t (user-error "Drover: no step at point")))))

;;;; The inbox

(defvar drover-inbox-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map special-mode-map)
    (define-key map (kbd "RET") #'drover-inbox-dwim)
    (define-key map "d" #'drover-inbox-decide)
    (define-key map "a" #'drover-inbox-approve)
    (define-key map "c" #'drover-inbox-request-changes)
    (define-key map "x" #'drover-inbox-reject)
    (define-key map "e" #'drover-inbox-edit)
    (define-key map "o" #'drover-inbox-open-run)
    (define-key map "n" #'drover-inbox-next)
    (define-key map "p" #'drover-inbox-previous)
    (define-key map "g" #'drover-refresh)
    map)
  "Keymap of `drover-inbox-mode'.")

(define-derived-mode drover-inbox-mode special-mode "Drover Inbox"
  "Open gates across the workspace's runs.
\\{drover-inbox-mode-map}"
  (setq header-line-format
        "RET answer  d decide  a approve  c request changes  x reject  e edit & approve  o run  g refresh")
  (setq drover--refresh-function #'drover--inbox-render))

(defun drover--inbox-render ()
  "Redraw the inbox from the cache."
  (let* ((server (gethash drover--buffer-root drover--servers))
         (items (and server (drover--server-inbox server)))
         (line (line-number-at-pos))
         (inhibit-read-only t))
    (erase-buffer)
    (if (null items)
        (insert "No open gates.\n")
      (dolist (item items)
        (let ((start (point)))
          (insert (propertize (format "%s  %s  %s  (%s ago)"
                                      (if (equal (plist-get item :kind) "children")
                                          "Waiting on children"
                                        (capitalize (format "%s" (plist-get item :kind))))
                                      (plist-get item :runId) (plist-get item :stepId)
                                      (drover--age (plist-get item :since)))
                              'face 'drover-heading)
                  "\n")
          (pcase (plist-get item :kind)
            ("decision"
             (insert (format "    %s\n    options: %s\n" (plist-get item :question)
                             (string-join (append (plist-get item :options) nil) " / "))))
            ("approval"
             (when-let ((review (plist-get item :review)))
               (drover--insert-verdict (format "    review by %s, " (plist-get review :stepId)) review))
             (insert "    proposal:\n" (drover--indent (plist-get item :proposal)) "\n"))
            ("children"
             (insert (format "    waiting on %s  (RET opens one; nothing to answer)\n"
                             (drover--children-summary (plist-get item :children))))
             (seq-doseq (child (plist-get item :children))
               (insert (format "      ↳ %-9s %s  %s\n" (plist-get child :status) (plist-get child :runId)
                               (drover--first-line (plist-get child :task))))))
            (kind (insert (format "    %s %s (this version of drover.el cannot answer it; o opens the run)\n"
                                  kind (plist-get item :id)))))
          (insert "\n")
          (put-text-property start (point) 'drover-item item)
          (put-text-property start (point) 'drover-run (plist-get item :runId)))))
    (goto-char (point-min))
    (forward-line (1- line))))

;;;###autoload
(defun drover-inbox ()
  "Show the open gates (decisions and approvals) of the workspace."
  (interactive)
  (let* ((server (drover--server))
         (buffer (drover--workspace-buffer "inbox" #'drover-inbox-mode server)))
    (with-current-buffer buffer (drover--inbox-render))
    (drover--refresh-inbox server)
    (pop-to-buffer buffer)
    buffer))

(defun drover--item-at-point (&optional kind)
  "The gate at point; when KIND is given, it must be of that kind."
  (let ((item (get-text-property (point) 'drover-item)))
    (unless item (user-error "Drover: no gate at point"))
    (when (and kind (not (equal kind (plist-get item :kind))))
      (user-error "Drover: this item is a %s, not a %s" (plist-get item :kind) kind))
    item))

(defun drover--gate-request (item method params done)
  "Send METHOD for the gate ITEM with extra PARAMS; say DONE, refresh.
Return nil; errors are shown to the user."
  (let ((server (drover--server)))
    (drover--request server method (append (list :runId (plist-get item :runId)) params)
                     (lambda (result)
                       (drover--store-run server (plist-get result :run))
                       (drover--refresh-inbox server)
                       (drover--message "%s: %s" (plist-get item :runId) done)))))

(defun drover--decide (item)
  "Ask for one of the decision ITEM's options and send it."
  (let ((choice (completing-read (format "%s " (plist-get item :question))
                                 (append (plist-get item :options) nil) nil t)))
    (drover--gate-request item "decision/resolve"
                          (list :decisionId (plist-get item :id) :choice choice)
                          (format "chose %s" choice))))

(defun drover--approve (item &optional proposal)
  "Approve the approval ITEM, with the edited PROPOSAL if given."
  (drover--gate-request item "step/approve"
                        (append (list :approvalId (plist-get item :id))
                                (and proposal (list :proposal proposal)))
                        (if proposal "approved the edited proposal" "approved")))

(defun drover--reject (item)
  "Ask for a reason and reject the approval ITEM."
  (let ((reason (read-string "Reject: reason (optional): ")))
    (drover--gate-request item "step/reject"
                          (append (list :approvalId (plist-get item :id))
                                  (unless (string-blank-p reason) (list :reason reason)))
                          "rejected")))

(defun drover--open-children (children)
  "Open one of CHILDREN (inbox children, plists with :runId).
The only one at once, else the one chosen."
  (let ((ids (mapcar (lambda (child) (plist-get child :runId)) (append children nil))))
    (cond ((null ids) (user-error "Drover: no child runs yet"))
          ((null (cdr ids)) (drover-open-run (car ids)))
          (t (drover-open-run (completing-read "Open child run: " ids nil t))))))

(defun drover--answer (item)
  "Answer the gate ITEM: choose for a decision, or pick an approval action.
A parent waiting on children opens one of them; another kind is not answered."
  (pcase (plist-get item :kind)
    ("decision" (drover--decide item))
    ("children" (drover--open-children (plist-get item :children)))
    ("approval" (drover--answer-approval item))
    (kind (user-error "Drover: run %s waits on a %s item, which drover.el cannot answer (o opens the run)"
                      (plist-get item :runId) kind))))

(defun drover--answer-approval (item)
  "Pick an action for the approval ITEM and do it."
  (pcase (car (read-multiple-choice
               (format "%s: " (drover--gate-summary item))
               '((?a "approve") (?c "request changes") (?x "reject")
                 (?e "edit and approve") (?q "quit"))))
    (?a (drover--approve item))
    (?c (drover--compose-feedback item))
    (?x (drover--reject item))
    (?e (drover--compose-edit item))))

(defun drover-inbox-dwim ()
  "Answer the gate at point."
  (interactive)
  (drover--answer (drover--item-at-point)))

(defun drover-inbox-decide ()
  "Answer the decision at point with one of its options."
  (interactive)
  (drover--decide (drover--item-at-point "decision")))

(defun drover-inbox-approve ()
  "Approve the proposal at point as it is."
  (interactive)
  (drover--approve (drover--item-at-point "approval")))

(defun drover-inbox-reject ()
  "Reject the proposal at point (the run fails; it can be retried)."
  (interactive)
  (drover--reject (drover--item-at-point "approval")))

(defun drover-inbox-request-changes ()
  "Write feedback for the proposal at point, to request a new version."
  (interactive)
  (drover--compose-feedback (drover--item-at-point "approval")))

(defun drover-inbox-edit ()
  "Edit the proposal at point, to approve the edited text."
  (interactive)
  (drover--compose-edit (drover--item-at-point "approval")))

(defun drover-inbox-open-run ()
  "Open the run of the gate at point."
  (interactive)
  (drover-open-run (plist-get (drover--item-at-point) :runId)))

(defun drover-inbox-next ()
  "Move to the next gate."
  (interactive)
  (goto-char (or (next-single-property-change (point) 'drover-item) (point-max)))
  (unless (get-text-property (point) 'drover-item)
    (goto-char (or (next-single-property-change (point) 'drover-item) (point-max)))))

(defun drover-inbox-previous ()
  "Move to the previous gate."
  (interactive)
  (let ((item (get-text-property (point) 'drover-item))
        (pos (point)))
    ;; Leave the current gate, then go to the start of the one before.
    (while (and (> pos (point-min)) (eq (get-text-property pos 'drover-item) item))
      (setq pos (1- pos)))
    (let ((previous (get-text-property pos 'drover-item)))
      (while (and (> pos (point-min)) (eq (get-text-property (1- pos) 'drover-item) previous))
        (setq pos (1- pos)))
      (goto-char (if previous pos (point-min))))))

;;;; Composing feedback and edited proposals

(defvar-local drover--compose-send nil
  "Function of the buffer text that sends it; returns nothing useful.")

(defvar drover-compose-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'drover-compose-send)
    (define-key map (kbd "C-c C-k") #'drover-compose-abort)
    map)
  "Keymap of `drover-compose-mode'.")

(define-derived-mode drover-compose-mode text-mode "Drover Compose"
  "Write text for a gate: \\[drover-compose-send] sends, \\[drover-compose-abort] aborts.
\\{drover-compose-mode-map}")

(defun drover--compose (name header text send)
  "Open the buffer NAME with HEADER and TEXT.
In it, \\<drover-compose-mode-map>\\[drover-compose-send] calls SEND with the text."
  (let ((buffer (generate-new-buffer name)))
    (with-current-buffer buffer
      (drover-compose-mode)
      (insert (or text ""))
      (goto-char (point-min))
      (setq header-line-format (concat header "  —  C-c C-c send, C-c C-k abort"))
      (setq drover--compose-send send))
    (pop-to-buffer buffer)
    buffer))

(defun drover-compose-send ()
  "Send the text of this buffer, then close it."
  (interactive)
  (let ((text (buffer-substring-no-properties (point-min) (point-max)))
        (send drover--compose-send)
        (buffer (current-buffer)))
    (unless send (user-error "Drover: nothing to send from this buffer"))
    (funcall send text)
    (quit-window t (get-buffer-window buffer))
    (when (buffer-live-p buffer) (kill-buffer buffer))))

(defun drover-compose-abort ()
  "Close this buffer without sending anything."
  (interactive)
  (let ((buffer (current-buffer)))
    (quit-window t (get-buffer-window buffer))
    (when (buffer-live-p buffer) (kill-buffer buffer))
    (drover--message "nothing sent")))

(defun drover--compose-feedback (item)
  "Write feedback for the approval ITEM, to request a new version."
  (drover--compose
   (format "*drover feedback %s*" (plist-get item :id))
   (format "Feedback for %s of %s" (plist-get item :stepId) (plist-get item :runId))
   ""
   (lambda (text)
     (if (string-blank-p text)
         (user-error "Drover: the feedback is empty")
       (drover--gate-request item "step/requestChanges"
                             (list :approvalId (plist-get item :id) :feedback text)
                             "changes requested")))))

(defun drover--compose-edit (item)
  "Edit the proposal of the approval ITEM, to approve the edited text."
  (let ((proposal (plist-get item :proposal)))
    (drover--compose
     (format "*drover proposal %s*" (plist-get item :id))
     (format "Edit the proposal of %s of %s" (plist-get item :stepId) (plist-get item :runId))
     proposal
     (lambda (text) (drover--approve item text)))))

;;;; Logs

(defvar-local drover--log-step nil "The step whose log this buffer follows.")
(defvar-local drover--log-attempt nil "The attempt whose lines are shown last.")
(defvar-local drover--log-backfilling nil "Non-nil while the log file is read.")
(defvar-local drover--log-pending nil "Live lines received during the backfill, newest first.")
(defvar-local drover--log-next nil "Log file offset where the backfill ended.")
(defvar-local drover--log-partial "" "Bytes of an unfinished line of the backfill.")

(define-derived-mode drover-log-mode special-mode "Drover Log"
  "A step's log, followed live.
Point stays at the end while it is there; move it to stop following."
  (setq buffer-undo-list t))

(defun drover--render-file-line (line)
  "Return LINE of a log file as its `run/log' text, or nil to hide it.
Agent line-protocol messages become their text, as live lines do."
  (if (not (string-prefix-p "{" (string-trim-left line)))
      line
    (let ((json (condition-case nil
                    (json-parse-string line :object-type 'plist :null-object nil :false-object nil)
                  (error nil))))
      (if (not (and json (listp json) (stringp (plist-get json :type))))
          line
        (pcase (plist-get json :type)
          ("log" (if (stringp (plist-get json :text)) (plist-get json :text) line))
          ("progress"
           (let ((fraction (plist-get json :fraction)) (message (plist-get json :message)))
             (string-join (delq nil (list "progress"
                                          (and (numberp fraction)
                                               (format "%d%%" (floor (+ (* fraction 100) 0.5))))
                                          (and (stringp message) message)))
                          " ")))
          ((or "usage" "decision" "result") nil)
          (_ line))))))

(defun drover--log-insert (lines)
  "Append LINES (strings, or (TEXT . FACE)) at the end of the buffer.
Point and windows at the end stay at the end."
  (when lines
    (let* ((inhibit-read-only t)
           (at-end (= (point) (point-max)))
           (windows (seq-filter (lambda (w) (= (window-point w) (point-max)))
                                (get-buffer-window-list (current-buffer) nil t))))
      (save-excursion
        (goto-char (point-max))
        (dolist (line lines)
          (if (consp line)
              (insert (propertize (car line) 'face (cdr line)) "\n")
            (insert line "\n"))))
      (when at-end (goto-char (point-max)))
      (dolist (w windows) (set-window-point w (point-max))))))

(defun drover--log-live-line (params)
  "Show the live line PARAMS of a `run/log' notification, if it is new."
  (let ((attempt (plist-get params :attempt))
        (offset (plist-get params :offset)))
    (cond
     ((< attempt drover--log-attempt))
     ((> attempt drover--log-attempt)
      ;; A new attempt's file starts empty: all of its live lines are new.
      (setq drover--log-attempt attempt
            drover--log-next nil)
      (drover--log-insert (list (cons (format "── attempt %d ──" attempt) 'drover-heading)))
      (drover--log-live-line params))
     ((or (null offset) (null drover--log-next) (>= offset drover--log-next))
      (drover--log-insert
       (list (if (equal (plist-get params :stream) "stderr")
                 (cons (plist-get params :text) 'drover-status-failed)
               (plist-get params :text))))))))

(defun drover--on-log (server params)
  "Route the `run/log' notification PARAMS of SERVER to the log buffers."
  (setf (drover--server-loggers server)
        (seq-filter #'buffer-live-p (drover--server-loggers server)))
  (dolist (buffer (drover--server-loggers server))
    (with-current-buffer buffer
      (when (and (equal drover--run-id (plist-get params :runId))
                 (equal drover--log-step (plist-get params :stepId)))
        (if drover--log-backfilling
            (push params drover--log-pending)
          (drover--log-live-line params))))))

(defun drover--log-backfill (server buffer attempt offset)
  "Read ATTEMPT's log file from OFFSET with `step/log' into BUFFER of SERVER."
  (with-current-buffer buffer
    (drover--request
     server "step/log" (list :runId drover--run-id :stepId drover--log-step
                             :attempt attempt :offset offset :limit 65536)
     (lambda (result)
       (when (buffer-live-p buffer)
         (with-current-buffer buffer
           (let* ((text (concat drover--log-partial (plist-get result :text)))
                  (next (plist-get result :nextOffset))
                  (eof (eq (plist-get result :eof) t))
                  (lines (split-string text "\n"))
                  (partial (car (last lines))))
             (setq lines (butlast lines))
             (drover--log-insert (delq nil (mapcar #'drover--render-file-line lines)))
             (setq drover--log-partial partial)
             (if (and (not eof) (> next offset))
                 (drover--log-backfill server buffer attempt next)
               ;; The end: the unfinished last line of a live attempt comes live.
               (if (or eof (string-empty-p partial))
                   (progn
                     (when (and eof (not (string-empty-p partial)))
                       (drover--log-insert (delq nil (list (drover--render-file-line partial)))))
                     (setq drover--log-next next))
                 (setq drover--log-next (- next (string-bytes partial))))
               (setq drover--log-partial "")
               (drover--log-join))))))
     (lambda (err)
       (when (buffer-live-p buffer)
         (with-current-buffer buffer
           (setq drover--log-next nil)
           (drover--log-join)))
       (unless (eql (plist-get err :code) -1)
         (drover--message "step/log failed: %s" (plist-get err :message)))))))

(defun drover--log-join ()
  "End the backfill: show the live lines it held back that are new."
  (let ((pending (reverse drover--log-pending)))
    (setq drover--log-pending nil
          drover--log-backfilling nil)
    (mapc #'drover--log-live-line pending)))

;;;###autoload
(defun drover-log (run-id step-id)
  "Follow the log of STEP-ID of the run RUN-ID live, backfilled from its file.
Interactively, the run and step at point, else asked for."
  (interactive
   (let* ((server (drover--server))
          (id (or (drover--context-run) (drover--read-run server)))
          (run (drover--get-run server id))
          (steps (mapcar (lambda (s) (plist-get s :id)) (plist-get run :steps))))
     (list id (or (get-text-property (point) 'drover-step)
                  (and (equal id drover--run-id) drover--log-step)
                  (completing-read "Step: " steps nil t nil nil
                                   (or (plist-get run :currentStep) (car (last steps))))))))
  (let* ((server (drover--server))
         (buffer (get-buffer-create (format "*drover log %s %s*" run-id step-id))))
    (with-current-buffer buffer
      (unless (derived-mode-p 'drover-log-mode) (drover-log-mode))
      (let ((inhibit-read-only t)) (erase-buffer))
      (setq drover--buffer-root (drover--server-root server)
            default-directory drover--buffer-root
            drover--run-id run-id
            drover--log-step step-id
            drover--log-attempt 0
            drover--log-backfilling t
            drover--log-pending nil
            drover--log-next nil
            drover--log-partial ""
            header-line-format (format "Log of %s, run %s" step-id run-id)))
    ;; Subscribe first (live lines are held back), then find the attempt and backfill.
    (cl-pushnew buffer (drover--server-loggers server))
    (drover--request
     server "run/get" (list :runId run-id)
     (lambda (result)
       (drover--store-run server (plist-get result :run))
       (when (buffer-live-p buffer)
         (let* ((step (seq-find (lambda (s) (equal (plist-get s :id) step-id))
                                (plist-get (plist-get result :run) :steps)))
                (attempt (or (plist-get step :attempts) 0)))
           (with-current-buffer buffer (setq drover--log-attempt attempt))
           (if (zerop attempt)
               (with-current-buffer buffer (setq drover--log-next 0) (drover--log-join))
             (drover--log-backfill server buffer attempt 0))))))
    (pop-to-buffer buffer)
    buffer))

;;;; Stopping

(defun drover--stop-server (server &optional wait)
  "Stop SERVER with `shutdown' and `exit'; with WAIT, wait up to 5 seconds."
  (let ((proc (drover--server-process server)))
    (when (process-live-p proc)
      (setf (drover--server-stopping server) t)
      (if (drover--server-ready server)
          (let ((conn (drover--server-conn server)))
            (jsonrpc-async-request conn 'shutdown nil
                                   :success-fn (lambda (_) (ignore-errors (jsonrpc-notify conn 'exit nil)))
                                   :error-fn (lambda (_) (ignore-errors (process-send-eof proc)))
                                   :timeout 5 :timeout-fn (lambda () (delete-process proc))))
        (process-send-eof proc))
      (when wait
        (let ((deadline (+ (float-time) 5)))
          (while (and (process-live-p proc) (< (float-time) deadline))
            (accept-process-output proc 0.05)))
        (when (process-live-p proc) (delete-process proc))))))

;;;###autoload
(defun drover-stop ()
  "Stop the workspace's `drover serve' (its running agents are interrupted)."
  (interactive)
  (when-let ((server (gethash (drover--root) drover--servers)))
    (drover--stop-server server t)
    (drover--message "server stopped")))

(defun drover--stop-all ()
  "Stop every server, waiting briefly for each (for `kill-emacs-hook')."
  (maphash (lambda (_root server) (ignore-errors (drover--stop-server server t))) drover--servers))

(add-hook 'kill-emacs-hook #'drover--stop-all)

;;;; Mode line

(defun drover-open-gates ()
  "The number of open gates across the live servers."
  (let ((count 0))
    (maphash (lambda (_root server)
               (when (drover--live-p server)
                 (setq count (+ count (seq-count #'drover--answerable-p (drover--server-inbox server))))))
             drover--servers)
    count))

(defun drover--lighter-string ()
  "The mode-line text of `drover-mode'."
  (let ((gates (drover-open-gates))
        (dead nil))
    (maphash (lambda (_root server) (when (drover--server-dead server) (setq dead t))) drover--servers)
    (concat " Drover"
            (cond ((> gates 0) (propertize (format "[%d]" gates) 'face 'drover-status-blocked
                                           'help-echo "Open Drover gates: M-x drover-inbox"))
                  (dead (propertize "[stopped]" 'face 'drover-status-failed
                                    'help-echo "A drover server exited; the next command restarts it"))
                  (t "")))))

(defvar drover-mode-line-lighter '(:eval (drover--lighter-string))
  "Mode-line construct of `drover-mode': open gates, or a stopped server.")
(put 'drover-mode-line-lighter 'risky-local-variable t)

;;;###autoload
(define-minor-mode drover-mode
  "Show Drover's open gates in the mode line."
  :global t
  :group 'drover
  :lighter drover-mode-line-lighter)

(provide 'drover)
;;; drover.el ends here
