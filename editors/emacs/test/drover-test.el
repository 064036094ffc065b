;;; drover-test.el --- ERT tests of drover.el against the real drover -*- lexical-binding: t; -*-

;;; Commentary:

;; Every test drives the real `drover serve' ($DROVER_BIN) in a fresh git
;; workspace with a fresh DROVER_CONFIG_DIR, answers prompts as a user
;; would (by replacing `completing-read', `read-string', `yes-or-no-p'
;; with `cl-letf'), and waits on conditions with a deadline.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'json)
(require 'drover)

(defvar drover-test-timeout 20
  "Seconds a test waits for a condition before failing.")

(defvar drover-test--messages nil
  "Messages shown during the current test, newest first.")

(defun drover-test--record-message (format-string &rest args)
  "Record the message FORMAT-STRING with ARGS (advice of `message')."
  (when format-string
    (push (apply #'format-message format-string args) drover-test--messages)))

(defun drover-test--wait-1 (what predicate &optional timeout)
  "Wait until PREDICATE returns non-nil, else fail the test saying WHAT."
  (let ((deadline (+ (float-time) (or timeout drover-test-timeout)))
        value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value (ert-fail (format "timed out waiting for %s" what)))))

(defmacro drover-test-wait (what &rest body)
  "Wait until BODY returns non-nil (failing the test with WHAT otherwise)."
  (declare (indent 1))
  `(drover-test--wait-1 ,what (lambda () ,@body)))

(defun drover-test--mode-line ()
  "The text `drover-mode' adds to the mode line.
Batch Emacs renders no mode line (`format-mode-line' returns \"\"), so the
construct in `minor-mode-alist' is evaluated as the mode line would."
  (let ((construct (cadr (assq 'drover-mode minor-mode-alist))))
    (should (eq construct 'drover-mode-line-lighter))
    (should (get construct 'risky-local-variable))
    (pcase (symbol-value construct)
      (`(:eval ,form) (eval form t)))))

(defun drover-test--server ()
  "The server of the test's workspace."
  (gethash (drover--root) drover--servers))

(defun drover-test--run (id)
  "The cached run ID."
  (drover--get-run (drover-test--server) id))

(defun drover-test--status (id)
  "The cached status of run ID."
  (plist-get (drover-test--run id) :status))

(defun drover-test--step (id step)
  "The cached STEP of run ID."
  (seq-find (lambda (s) (equal (plist-get s :id) step)) (plist-get (drover-test--run id) :steps)))

(defun drover-test--cleanup (root dirs)
  "Stop the server and the engine of ROOT, kill Drover buffers, delete DIRS.
The engine outlives the server (until its idle timeout) and still writes in
ROOT's .drover folder: it is stopped (`drover engine stop' returns once it
has exited) before the folders go, so none is left behind, nor any engine."
  (let ((server (gethash root drover--servers)))
    (when server
      (drover--stop-server server t)
      (when-let ((timer (drover--server-refresh-timer server))) (cancel-timer timer))
      (remhash root drover--servers)))
  (when (file-directory-p root)
    (call-process drover-command nil nil nil "engine" "stop" "--quiet" "--workspace" root))
  (dolist (buffer (buffer-list))
    (when (string-match-p "\\`\\*drover\\| \\*drover\\|\\*drover " (buffer-name buffer))
      (let ((kill-buffer-query-functions nil)) (kill-buffer buffer))))
  (dolist (dir dirs) (ignore-errors (delete-directory dir t))))

(defmacro drover-test-with-workspace (&rest body)
  "Run BODY in a fresh git workspace with a fresh drover config folder."
  (declare (indent 0))
  `(let* ((ws (file-name-as-directory (file-truename (make-temp-file "drover-ws-" t))))
          (cfg (make-temp-file "drover-cfg-" t))
          (process-environment (cons (concat "DROVER_CONFIG_DIR=" cfg) process-environment))
          (drover-command (or (getenv "DROVER_BIN") "drover"))
          (default-directory ws)
          (drover-workspace ws)
          (drover-desktop-notifications nil)
          (drover-test--messages nil))
     (call-process "git" nil nil nil "init" "-q" ws)
     (advice-add 'message :before #'drover-test--record-message)
     (unwind-protect
         (progn ,@body)
       (advice-remove 'message #'drover-test--record-message)
       (drover-test--cleanup ws (list ws cfg)))))

(defun drover-test--write-pipeline (id script &optional extra)
  "Write the workspace pipeline ID with one fake step `s' playing SCRIPT.
EXTRA is added to the step object (an alist)."
  (let ((dir (expand-file-name ".drover/pipelines" default-directory)))
    (make-directory dir t)
    (with-temp-file (expand-file-name (concat id ".json") dir)
      (insert (json-encode
               `((name . ,(upcase id))
                 (description . ,(format "Test pipeline %s" id))
                 (steps . [((id . "s") (kind . "agent") (role . "x") (prompt . "p")
                            (agent . ((driver . "fake") (script . ,script)))
                            ,@extra)])))))))

(defun drover-test--messages-matching (regexp)
  "Messages shown so far that match REGEXP."
  (seq-filter (lambda (m) (string-match-p regexp m)) drover-test--messages))

(defun drover-test--start (pipeline task &optional trust)
  "Start PIPELINE on TASK with `drover-run', answering its prompts.
TRUST answers a trust question.  Return the new run's id."
  (let ((server (drover--server)) before asked-trust)
    (drover-test-wait "the server to be ready" (drover--server-ready server))
    (setq before (mapcar (lambda (r) (plist-get r :id)) (drover--runs-sorted server)))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt _table &rest _) pipeline))
              ((symbol-function 'read-string)
               (lambda (&rest _) task))
              ((symbol-function 'yes-or-no-p)
               (lambda (_prompt) (setq asked-trust t) trust)))
      (drover-run)
      (drover-test-wait (format "a new run of %s" pipeline)
        (seq-find (lambda (r) (not (member (plist-get r :id) before)))
                  (drover--runs-sorted server))))
    (plist-get (seq-find (lambda (r) (not (member (plist-get r :id) before)))
                         (drover--runs-sorted server))
               :id)))

(defun drover-test--inbox-goto (kind)
  "Move point, in the inbox, to the first gate of KIND; return the item."
  (goto-char (point-min))
  (let (item)
    (while (and (not (eobp))
                (not (equal kind (plist-get (setq item (get-text-property (point) 'drover-item)) :kind))))
      (forward-line 1))
    (and (not (eobp)) item)))

(defun drover-test--press (key)
  "Run the command KEY is bound to in the current buffer, as a user would."
  (let ((command (key-binding (kbd key))))
    (should (commandp command))
    (call-interactively command)))

(defun drover-test--open-gate (run-id kind)
  "Open the inbox and wait for RUN-ID's gate of KIND; point on it."
  (with-current-buffer (drover-inbox)
    (drover-test-wait (format "a %s gate of %s in the inbox" kind run-id)
      (let ((item (drover-test--inbox-goto kind)))
        (and item (equal (plist-get item :runId) run-id) item)))))

;;;; Tests

(ert-deftest drover-test-run-demo-with-prompts ()
  "`drover-run' offers pipelines with descriptions and starts the chosen one."
  (drover-test-with-workspace
    (let (offered annotation task-default)
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt table &rest _)
                   (setq offered (all-completions "" table))
                   (let ((annotate (alist-get 'annotation-function
                                              (cdr (funcall table "" nil 'metadata)))))
                     (setq annotation (funcall annotate "demo")))
                   "demo"))
                ((symbol-function 'read-string)
                 (lambda (_prompt &optional _initial _history default &rest _)
                   ;; The user accepts the default: the active region.
                   (setq task-default default)
                   default)))
        (with-temp-buffer
          (insert "Add a --verbose flag")
          (transient-mark-mode 1)
          (set-mark (point-min))
          (goto-char (point-max))
          (activate-mark)
          (call-interactively #'drover-run))
        (let ((buffer (drover-test-wait "the run buffer"
                        (seq-find (lambda (b) (with-current-buffer b (derived-mode-p 'drover-run-mode)))
                                  (buffer-list)))))
          (should (member "demo" offered))
          (should (member "implement" offered))
          (should (string-match-p "decision and an approval" annotation))
          (should (equal task-default "Add a --verbose flag"))
          (with-current-buffer buffer
            (drover-test-wait "the run buffer to show the open decision"
              (string-match-p "decision d-plan-1: How thorough should the plan be\\? \\[quick / thorough\\] (open"
                              (buffer-string)))
            (should (string-match-p "^Pipeline: demo$" (buffer-string)))
            (should (string-match-p "^Task: +Add a --verbose flag$" (buffer-string)))
            (should (string-match-p "^Status: +blocked$" (buffer-string)))
            ;; What the server holds, read back.
            (should (equal (plist-get (drover-test--run drover--run-id) :task) "Add a --verbose flag"))
            ;; RET on the step with the open decision answers it.
            (goto-char (point-min))
            (search-forward "decision d-plan-1")
            (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
              (drover-test--press "RET"))
            (drover-test-wait "the approval in the run buffer"
              (string-match-p "approval a-impl-1: pending (RET to answer)" (buffer-string)))
            (should (string-match-p "decision d-plan-1: .* → quick" (buffer-string)))))))))

(ert-deftest drover-test-inbox-decision-then-approve ()
  "The inbox answers the decision with a chosen option, then approves."
  (drover-test-with-workspace
    (let ((id (drover-test--start "demo" "Add a flag")))
      (drover-test--open-gate id "decision")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (should (string-match-p "How thorough should the plan be\\?\n +options: quick / thorough" (buffer-string)))
        (let (offered)
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt options &rest _) (setq offered options) "thorough")))
            (drover-test--press "d"))
          (should (equal offered '("quick" "thorough")))))
      (drover-test--open-gate id "approval")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "approval")
        (should (string-match-p "proposal:\n +Implemented (fake agent" (buffer-string)))
        (drover-test--press "a"))
      (drover-test-wait "the run to be done" (equal (drover-test--status id) "done"))
      (let ((plan (drover-test--step id "plan")) (impl (drover-test--step id "impl")))
        (should (equal (plist-get (plist-get plan :decision) :chosen) "thorough"))
        (should (equal (plist-get (plist-get impl :approval) :status) "approved")))
      (with-current-buffer (drover-inbox)
        (drover-test-wait "an empty inbox" (string-match-p "No open gates" (buffer-string)))))))

(ert-deftest drover-test-request-changes-loop ()
  "Feedback written in a buffer goes out with C-c C-c; C-c C-k sends nothing."
  (drover-test-with-workspace
    (let ((id (drover-test--start "demo" "Add a flag")))
      (drover-test--open-gate id "decision")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
          (drover-test--press "d")))
      ;; First, abort: nothing is sent, the approval stays open.
      (drover-test--open-gate id "approval")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "approval")
        (drover-test--press "c"))
      (with-current-buffer (get-buffer "*drover feedback a-impl-1*")
        (should (derived-mode-p 'drover-compose-mode))
        (insert "never sent")
        (drover-test--press "C-c C-k"))
      (should-not (get-buffer "*drover feedback a-impl-1*"))
      ;; Then write feedback and send it.
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "approval")
        (drover-test--press "c"))
      (with-current-buffer (get-buffer "*drover feedback a-impl-1*")
        (insert "Please add tests")
        (drover-test--press "C-c C-c"))
      (drover-test-wait "a new approval after the feedback"
        (let ((approval (plist-get (drover-test--step id "impl") :approval)))
          (and (equal (plist-get approval :id) "a-impl-2")
               (equal (plist-get approval :status) "pending")
               approval)))
      (let ((resolved (seq-filter (lambda (e) (equal (plist-get e :type) "approval.resolved"))
                                  (drover-run-events id))))
        (should (= (length resolved) 1))
        (should (equal (plist-get (plist-get (car resolved) :data) :status) "changes_requested"))
        (should (equal (plist-get (plist-get (car resolved) :data) :feedback) "Please add tests")))
      (should (string-match-p "Please add tests"
                              (plist-get (plist-get (drover-test--step id "impl") :approval) :proposal)))
      (drover-test--open-gate id "approval")
      (with-current-buffer (drover-inbox)
        (should (equal (plist-get (drover-test--inbox-goto "approval") :id) "a-impl-2"))
        (drover-test--press "a"))
      (drover-test-wait "the run to be done" (equal (drover-test--status id) "done")))))

(ert-deftest drover-test-edit-and-approve ()
  "The proposal is edited in a buffer and C-c C-c approves the edited text."
  (drover-test-with-workspace
    (let ((id (drover-test--start "demo" "Add a flag")))
      (drover-test--open-gate id "decision")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
          (drover-test--press "d")))
      (let ((item (drover-test--open-gate id "approval")))
        (with-current-buffer (drover-inbox)
          (drover-test--inbox-goto "approval")
          (drover-test--press "e"))
        (with-current-buffer (get-buffer "*drover proposal a-impl-1*")
          (should (equal (buffer-string) (plist-get item :proposal)))
          (erase-buffer)
          (insert "Edited by a person")
          (drover-test--press "C-c C-c")))
      (drover-test-wait "the run to be done" (equal (drover-test--status id) "done"))
      (drover-test-wait "the full run"
        (equal (plist-get (drover-test--step id "impl") :output) "Edited by a person"))
      (with-current-buffer (drover-open-run id)
        (drover-test-wait "the run buffer to show the edited output"
          (string-match-p "output:\n +Edited by a person" (buffer-string)))))))

(ert-deftest drover-test-reject ()
  "Rejecting asks for a reason; the run fails and its buffer shows the hint."
  (drover-test-with-workspace
    (let ((id (drover-test--start "demo" "Add a flag")))
      (drover-test--open-gate id "decision")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
          (drover-test--press "d")))
      (drover-test--open-gate id "approval")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "approval")
        (cl-letf (((symbol-function 'read-string) (lambda (&rest _) "Not what I asked")))
          (drover-test--press "x")))
      (drover-test-wait "the run to fail" (equal (drover-test--status id) "failed"))
      (should (equal (plist-get (plist-get (drover-test--run id) :failure) :kind) "rejected"))
      (with-current-buffer (drover-open-run id)
        (drover-test-wait "the failure and hint in the run buffer"
          (and (string-match-p "^Failed (rejected): " (buffer-string))
               (string-match-p "^Hint: .*retry" (buffer-string))
               (string-match-p "feedback: Not what I asked" (buffer-string))))
        ;; r retries: the step re-runs and asks for approval again.
        (drover-test--press "r")
        (drover-test-wait "a new approval after the retry"
          (string-match-p "approval a-impl-2: pending" (buffer-string)))
        (should (equal (drover-test--status id) "blocked"))))))

(ert-deftest drover-test-runs-list-cancel ()
  "The run list shows runs live with a status face; RET opens; c cancels."
  (drover-test-with-workspace
    (let ((id (drover-test--start "demo" "Add a flag")))
      (with-current-buffer (drover-runs)
        (drover-test-wait "the blocked run in the list"
          (goto-char (point-min))
          (and (re-search-forward (concat "^ " (regexp-quote id) " +demo +blocked +plan +[0-9]+[smhd] +[0-9]+ tok") nil t)))
        (goto-char (match-beginning 0))
        (should (equal (tabulated-list-get-id) id))
        (search-forward "blocked")
        (should (eq (get-text-property (1- (point)) 'face) 'drover-status-blocked))
        (drover-test--press "RET")
        (should (equal (buffer-name) (format "*drover run %s*" id))))
      (with-current-buffer (get-buffer (format "*drover runs: %s*" (file-name-nondirectory (directory-file-name ws))))
        (goto-char (point-min))
        (search-forward id)
        (let (asked)
          (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (setq asked prompt) t)))
            (drover-test--press "c"))
          (should (string-match-p (regexp-quote id) asked)))
        (drover-test-wait "the list to show the run cancelled"
          (goto-char (point-min))
          (re-search-forward (concat "^ " (regexp-quote id) " +demo +cancelled") nil t)))
      (should (equal (drover-test--status id) "cancelled")))))

(ert-deftest drover-test-log-joins-5000-lines ()
  "A noisy step's log buffer holds every line once, in order, live and backfilled."
  (drover-test-with-workspace
    ;; 5,000 lines: 3,000 at once (read back while they are written), a pause
    ;; in the agent, then 2,000 more that arrive live after the backfill.
    (drover-test--write-pipeline
     "noisy" [[((say . "begin")) ((spam . 3000)) ((sleep . 0.5)) ((spam . 2000)) ((say . "end"))
               ((result . "ok"))]])
    (let* ((first-line nil)
           (watch (lambda (_server params)
                    (when (string-prefix-p "spam" (plist-get params :text)) (setq first-line t)))))
      (advice-add 'drover--on-log :before watch)
      (unwind-protect
          (let* ((id (drover-test--start "noisy" "Make noise" t))
                 (expected (append '("begin")
                                   (mapcar (lambda (i) (format "spam %d/3000" i)) (number-sequence 1 3000))
                                   (mapcar (lambda (i) (format "spam %d/2000" i)) (number-sequence 1 2000))
                                   '("end")))
                 buffer)
            (should (drover-test--messages-matching "workspace trusted"))
            ;; Open the log while the step is spamming: backfill and live lines overlap.
            (drover-test-wait "the first spam line" first-line)
            (setq buffer (drover-log id "s"))
            (drover-test-wait "the run to be done" (equal (drover-test--status id) "done"))
            (with-current-buffer buffer
              (drover-test-wait "5002 lines in the log buffer"
                (and (not drover--log-backfilling)
                     (>= (count-lines (point-min) (point-max)) 5002)))
              (should (equal (split-string (buffer-substring-no-properties (point-min) (point-max)) "\n" t)
                             expected))
              (should (= (point) (point-max))))
            ;; Opened after the end: backfill only, same lines.
            (kill-buffer buffer)
            (setq buffer (drover-log id "s"))
            (with-current-buffer buffer
              (drover-test-wait "the backfill" (not drover--log-backfilling))
              (should (equal (split-string (buffer-substring-no-properties (point-min) (point-max)) "\n" t)
                             expected))))
        (advice-remove 'drover--on-log watch)))))

(ert-deftest drover-test-log-follows-new-attempt-and-keeps-point ()
  "Lines of a later attempt follow a header; a moved point stays put."
  (drover-test-with-workspace
    (drover-test--write-pipeline
     "twice" [[((say . "first {{attempt}}")) ((ask . ((question . "Again?") (options . ["yes"]))))]
              [((say . "second {{attempt}}")) ((sleep . 1)) ((say . "last line")) ((result . "ok"))]])
    (let* ((id (drover-test--start "twice" "Twice" t))
           (buffer nil))
      (drover-test-wait "the decision" (equal (drover-test--status id) "blocked"))
      (setq buffer (drover-log id "s"))
      (with-current-buffer buffer
        (drover-test-wait "the backfill" (and (not drover--log-backfilling)
                                              (string-match-p "first 1" (buffer-string))))
        (goto-char (point-min)))
      (drover-test--open-gate id "decision")
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "yes")))
          (drover-test--press "d")))
      (drover-test-wait "the run to be done" (equal (drover-test--status id) "done"))
      (with-current-buffer buffer
        (drover-test-wait "the second attempt's lines"
          (string-match-p "last line" (buffer-string)))
        (should (equal (split-string (buffer-substring-no-properties (point-min) (point-max)) "\n" t)
                       '("first 1" "── attempt 2 ──" "second 2" "last line")))
        (should (= (point) (point-min)))))))

(ert-deftest drover-test-log-join-by-offset ()
  "Live lines held back during the backfill are shown when they start at or
after the offset where the backfill ended, and only then."
  (with-temp-buffer
    (drover-log-mode)
    (setq drover--run-id "r" drover--log-step "s" drover--log-attempt 2
          drover--log-backfilling t drover--log-next 30)
    (drover--log-insert '("one" "two"))
    (dolist (line '((:attempt 1 :text "older attempt" :offset 40)
                    (:attempt 2 :text "two" :offset 10)
                    (:attempt 2 :text "three" :offset 30)
                    (:attempt 2 :text "four" :offset 41)
                    (:attempt 3 :text "next attempt" :offset 0)))
      (push (append '(:runId "r" :stepId "s" :stream "agent") line) drover--log-pending))
    (drover--log-join)
    (should (equal (buffer-string) "one\ntwo\nthree\nfour\n── attempt 3 ──\nnext attempt\n"))
    (should-not drover--log-backfilling)))

(ert-deftest drover-test-log-without-offsets-appends-live-lines ()
  "With an older server (no `offset'), live lines after the backfill are appended."
  (with-temp-buffer
    (drover-log-mode)
    (setq drover--run-id "r" drover--log-step "s" drover--log-attempt 1
          drover--log-backfilling t drover--log-next 30)
    (drover--log-insert '("one"))
    (push '(:runId "r" :stepId "s" :attempt 1 :stream "agent" :text "two") drover--log-pending)
    (push '(:runId "r" :stepId "s" :attempt 1 :stream "agent" :text "dup" :offset 10) drover--log-pending)
    (push '(:runId "r" :stepId "s" :attempt 1 :stream "agent" :text "three" :offset 30) drover--log-pending)
    (drover--log-join)
    (should (equal (buffer-string) "one\ntwo\nthree\n"))))

(ert-deftest drover-test-mode-line-and-gate-message ()
  "`drover-mode' shows open gates in the mode line; a message announces a gate."
  (drover-test-with-workspace
    (let ((drover-mode-was drover-mode))
      (drover-mode 1)
      (unwind-protect
          (let ((id (drover-test--start "demo" "Add a flag")))
            (should (memq 'drover-mode (mapcar #'car minor-mode-alist)))
            (drover-test-wait "one gate in the mode line"
              (string-match-p "Drover\\[1\\]" (drover-test--mode-line)))
            (should (drover-test--messages-matching
                     (concat "drover: run " (regexp-quote id) ": plan asks: How thorough")))
            (drover-test--open-gate id "decision")
            (with-current-buffer (drover-inbox)
              (drover-test--inbox-goto "decision")
              (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
                (drover-test--press "d")))
            (drover-test-wait "the approval announced"
              (drover-test--messages-matching (concat "drover: run " (regexp-quote id) ": impl waits for approval")))
            (drover-test--open-gate id "approval")
            (with-current-buffer (drover-inbox)
              (drover-test--inbox-goto "approval")
              (drover-test--press "a"))
            (drover-test-wait "no gate in the mode line"
              (equal (drover-test--mode-line) " Drover")))
        (drover-mode (if drover-mode-was 1 -1))))))

(ert-deftest drover-test-missing-binary ()
  "A missing drover program is a clear user error, not a backtrace."
  (drover-test-with-workspace
    (let* ((drover-command (expand-file-name "no-such-drover" ws))
           (err (should-error (drover-runs) :type 'user-error)))
      (should (string-match-p "cannot find the program .*no-such-drover.*drover-command"
                              (error-message-string err))))))

(ert-deftest drover-test-silent-server-does-not-block ()
  "With a server that never answers, commands return at once."
  (drover-test-with-workspace
    (let ((script (expand-file-name "silent-drover" ws)))
      (with-temp-file script (insert "#!/bin/sh\nexec cat >/dev/null\n"))
      (set-file-modes script #o755)
      (let* ((drover-command script)
             (start (float-time))
             (prompted nil))
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) (setq prompted t) "demo")))
          (should (bufferp (drover-runs)))
          (should (bufferp (drover-inbox)))
          (drover-run)
          (should (< (- (float-time) start) 1.0))
          ;; The pipeline prompt waits for the server's list, which never comes.
          (should-not prompted))
        (with-current-buffer (get-buffer (format "*drover runs: %s*" (file-name-nondirectory (directory-file-name ws))))
          (should (derived-mode-p 'drover-runs-mode))
          (should (= 0 (buffer-size))))))))

(ert-deftest drover-test-json-rpc-errors-shown ()
  "Errors the server answers are shown to the user with their message."
  (drover-test-with-workspace
    (drover-test-wait "the server" (drover--server-ready (drover--server)))
    (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "demo"))
              ((symbol-function 'read-string) (lambda (&rest _) "   ")))
      (drover-run)
      (drover-test-wait "the run/start error"
        (drover-test--messages-matching "drover: run/start failed: .*task")))
    ;; A stale gate: answering a decision again with another choice is a conflict.
    (let ((id (drover-test--start "demo" "Add a flag")) item)
      (setq item (drover-test--open-gate id "decision"))
      (with-current-buffer (drover-inbox)
        (drover-test--inbox-goto "decision")
        (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "quick")))
          (drover-test--press "d")))
      (drover-test-wait "the choice recorded"
        (plist-get (plist-get (drover-test--step id "plan") :decision) :chosen))
      (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "thorough")))
        (drover--decide item))
      (drover-test-wait "the conflict shown"
        (drover-test--messages-matching "drover: decision/resolve failed: .*d-plan-1")))))

(ert-deftest drover-test-untrusted-workspace-asks ()
  "A workspace pipeline asks before trusting; saying no starts nothing."
  (drover-test-with-workspace
    (drover-test--write-pipeline "p" [[((result . "ok"))]])
    (let ((server (drover--server)) asked)
      (drover-test-wait "the server" (drover--server-ready server))
      (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "p"))
                ((symbol-function 'read-string) (lambda (&rest _) "task"))
                ((symbol-function 'yes-or-no-p) (lambda (prompt) (setq asked prompt) nil)))
        (drover-run)
        (drover-test-wait "the trust question" asked)
        (drover-test-wait "the refusal" (drover-test--messages-matching "not started: the workspace is not trusted")))
      (should (string-match-p "Trust the workspace" asked))
      (should (= 0 (hash-table-count (drover--server-runs server)))))))

(ert-deftest drover-test-server-crash-and-reconnect ()
  "A killed server is reported once; the next command restarts and catches up."
  (drover-test-with-workspace
    (drover-test--write-pipeline "slow" [[((say . "working")) ((sleep . 2)) ((result . "ok"))]])
    (let* ((id (drover-test--start "slow" "Slowly" t))
           (server (drover-test--server))
           (old (drover--server-process server)))
      (drover-test-wait "the step to work"
        (equal (plist-get (drover-test--step id "s") :state) "working"))
      (signal-process old 'SIGKILL)
      (drover-test-wait "the user to be told" (drover--server-dead server))
      (should (= 1 (length (drover-test--messages-matching "exited unexpectedly.*next Drover command restarts it"))))
      (drover-mode 1)
      (should (string-match-p "\\[stopped\\]" (drover-test--mode-line)))
      (drover-mode -1)
      ;; The next command restarts the server, which attaches to the workspace's engine, where the
      ;; run went on; we catch up.
      (drover-runs)
      (should-not (eq old (drover--server-process server)))
      (drover-test-wait "the run to be done after the restart" (equal (drover-test--status id) "done"))
      (let* ((events (drover-run-events id))
             (seqs (mapcar (lambda (e) (plist-get e :seq)) events)))
        (drover-test-wait "every event"
          (= (length (drover-run-events id)) (plist-get (drover-test--run id) :lastSeq)))
        (setq events (drover-run-events id)
              seqs (mapcar (lambda (e) (plist-get e :seq)) events))
        (should (equal seqs (number-sequence 1 (plist-get (drover-test--run id) :lastSeq))))
        (should-not (seq-find (lambda (e) (equal (plist-get e :type) "step.interrupted")) events)))
      (should (= 1 (length (drover-test--messages-matching "exited unexpectedly")))))))

;;;; Diff and apply of a run isolated in a git worktree

(defun drover-test--git (&rest args)
  "Run git with ARGS in the workspace; return its trimmed output (fail on error)."
  (with-temp-buffer
    (let ((status (apply #'call-process "git" nil t nil args)))
      (unless (eql status 0)
        (ert-fail (format "git %s failed: %s" (string-join args " ") (buffer-string))))
      (string-trim (buffer-string)))))

(defun drover-test--done-run ()
  "Commit a README, run a trusted pipeline whose fake agent writes files; return its id."
  (drover-test--git "config" "user.email" "test@drover.invalid")
  (drover-test--git "config" "user.name" "Drover Test")
  (with-temp-file "README.md" (insert "readme\n"))
  (drover-test--git "add" "README.md")
  (drover-test--git "commit" "-q" "-m" "initial")
  (drover-test--write-pipeline
   "writer" [[((write . ((path . "hello.txt") (text . "hello from the agent\nsecond line\n"))))
              ((write . ((path . "README.md") (text . "readme\nby the agent\n"))))
              ((result . "wrote"))]])
  (let ((id (drover-test--start "writer" "write hello" t)))
    (drover-test-wait "the run to be done"
      (progn (drover--fetch-run (drover-test--server) id)
             (equal (drover-test--status id) "done")))
    id))

(ert-deftest drover-test-diff-files-and-patches ()
  "`drover-diff' lists the run's files; RET shows a file's patch in `diff-mode'."
  (drover-test-with-workspace
    (let* ((id (drover-test--done-run))
           (head (drover-test--git "rev-parse" "HEAD"))
           (name (format "*drover diff %s*" id)))
      (drover-diff id)
      (drover-test-wait "the diff buffer"
        (and (get-buffer name)
             (with-current-buffer name (string-match-p "hello.txt" (buffer-string)))))
      (with-current-buffer name
        (let ((text (buffer-string)))
          (should (string-match-p "2 files, \\+3 -0" text))
          (should (string-match-p "^A added     hello\\.txt  \\+2 -0$" text))
          (should (string-match-p "^M modified  README\\.md  \\+1 -0$" text)))
        (goto-char (point-min))
        (search-forward "hello.txt")
        (drover-test--press "RET"))
      (with-current-buffer (format "*drover diff %s: hello.txt*" id)
        (should (eq major-mode 'diff-mode))
        (should (string-prefix-p "diff --git a/hello.txt b/hello.txt\n" (buffer-string)))
        (should (string-match-p "^\\+second line\n\\'" (buffer-string)))
        ;; diff-mode visits the run's own version of the file, in its worktree
        (should (equal default-directory
                       (file-name-as-directory (expand-file-name (concat ".drover/worktrees/" id) ws)))))
      (should (equal head (drover-test--git "rev-parse" "HEAD")))
      ;; the run buffer: worktree, branch, and the step's commit
      (with-current-buffer (drover--run-buffer (drover-test--server) id)
        (drover-test-wait "the commit in the run buffer"
          (string-match-p "^    commit [0-9a-f]\\{7\\} (attempt 1): 2 files, \\+3 -0$" (buffer-string)))
        (should (string-match-p (concat "^Worktree: " (regexp-quote (expand-file-name (concat ".drover/worktrees/" id) ws)) "$")
                                (buffer-string)))
        (should (string-match-p (concat "^Branch:   drover/" (regexp-quote id) " from HEAD") (buffer-string)))))))

(ert-deftest drover-test-apply-refused-then-merged ()
  "`drover-apply' is refused on an uncommitted edit of a run's file, then merges."
  (drover-test-with-workspace
    (let* ((id (drover-test--done-run))
           (head (drover-test--git "rev-parse" "HEAD"))
           asked strategies)
      (with-temp-file "hello.txt" (insert "my own hello\n"))
      (with-current-buffer (drover--run-buffer (drover-test--server) id)
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (_prompt table &rest _)
                     (setq strategies (all-completions "" table))
                     "merge"))
                  ((symbol-function 'yes-or-no-p) (lambda (prompt) (setq asked prompt) t)))
          (drover-test--press "a")))
      (should (equal strategies '("merge" "squash" "patch")))
      (should (string-match-p (concat "Apply run " (regexp-quote id) " .* with merge") asked))
      (drover-test-wait "the refusal" (drover-test--messages-matching "apply refused"))
      (let ((msg (car (drover-test--messages-matching "apply refused"))))
        (should (string-match-p "uncommitted" msg))
        (should (string-match-p "Files: hello\\.txt" msg)))
      (with-current-buffer "*drover apply*"
        (should (string-match-p "not applied (uncommitted)" (buffer-string)))
        (should (string-match-p "^  hello\\.txt$" (buffer-string))))
      (should (equal head (drover-test--git "rev-parse" "HEAD")))
      (should (equal "my own hello\n" (with-temp-buffer (insert-file-contents "hello.txt") (buffer-string))))
      ;; declined at the question: nothing sent, nothing applied
      (delete-file "hello.txt")
      (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) nil)))
        (drover-apply id "squash"))
      (should (drover-test--messages-matching (concat "run " (regexp-quote id) " not applied$")))
      (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) t)))
        (drover-apply id "merge"))
      (drover-test-wait "the apply" (drover-test--messages-matching (concat "applied run " (regexp-quote id) " (merge into")))
      (should (equal "hello from the agent\nsecond line" (drover-test--git "show" "HEAD:hello.txt")))
      (should (equal "readme\nby the agent" (drover-test--git "show" "HEAD:README.md")))
      (should (string-match-p head (drover-test--git "log" "-1" "--format=%P" "HEAD")))
      (with-current-buffer (format "*drover run %s*" id)
        (drover-test-wait "the run buffer to show the apply"
          (string-match-p "^Applied:  merge into " (buffer-string)))))))

;;;; Richer pipelines (issue 19): consensus, review rounds, fan-out children

(defvar drover-test--fixtures
  (expand-file-name "../../fixtures/" (file-name-directory (or load-file-name buffer-file-name)))
  "The fixture pipelines and agent config shared by the editor suites.")

(defun drover-test--start-rich (&optional pipeline)
  "Start the fixture pipeline `rich' in a workspace with a first commit; return its id.
Its consensus step votes, its reviewed step is sent back once and then waits
for approval, and its fan-out starts two child runs that each ask a question.
PIPELINE starts another fixture pipeline instead."
  (make-directory ".drover/pipelines" t)
  (dolist (file (directory-files (expand-file-name "pipelines" drover-test--fixtures) t "\\.json\\'"))
    (copy-file file (expand-file-name (file-name-nondirectory file) ".drover/pipelines/") t))
  (copy-file (expand-file-name "config.json" drover-test--fixtures) ".drover/config.json" t)
  (drover-test--git "config" "user.email" "test@drover.invalid")
  (drover-test--git "config" "user.name" "Drover Test")
  (with-temp-file "README.md" (insert "readme\n"))
  (drover-test--git "add" "README.md")
  (drover-test--git "commit" "-q" "-m" "initial")
  (drover-test--start (or pipeline "rich") "parse dates" t))

(defun drover-test--wait-text (buffer needle)
  "Wait until BUFFER's text contains NEEDLE; fail showing the text otherwise."
  (let ((deadline (+ (float-time) drover-test-timeout)))
    (while (and (not (and (get-buffer buffer)
                          (with-current-buffer buffer (string-search needle (buffer-string)))))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (with-current-buffer buffer (string-search needle (buffer-string)))
      (ert-fail (format "timed out waiting for %S in %s, which shows:\n%s" needle buffer
                        (with-current-buffer buffer (buffer-string)))))))

(defun drover-test--goto-text (needle)
  "Move point to the start of the line holding NEEDLE."
  (goto-char (point-min))
  (should (search-forward needle nil t))
  (beginning-of-line))

(defun drover-test--call (method &optional params)
  "Send METHOD with PARAMS to the test's server; wait for and return its result."
  (let (answer)
    (drover--request (drover-test--server) method params (lambda (result) (setq answer (list result))))
    (drover-test-wait (format "the answer to %s" method) answer)
    (car answer)))

(ert-deftest drover-test-run-view-consensus-and-review-rounds ()
  "The run buffer shows consensus answers and the winner, review rounds, the review by the approval."
  (drover-test-with-workspace
    (let* ((id (drover-test--start-rich))
           (buffer (drover--run-buffer (drover-test--server) id)))
      (drover-test--wait-text buffer "(RET to answer)\n    review by review")
      (with-current-buffer buffer
        (let ((text (buffer-string)))
          (dolist (needle '("    candidate alpha (attempt 1): Use PostgreSQL\n"
                            "    candidate beta (attempt 2): SQLite\n"
                            "    candidate gamma (attempt 3): use   postgresql\n"
                            "    candidate delta (attempt 4): no answer (agent): "
                            "    * alpha won (vote) — 2 of 3 answers agree (alpha, gamma): Use PostgreSQL\n"
                            "    review of impl, round 1: score 0.40 (needs 0.80) below the threshold\n      - the parser has no tests\n      - dates are off by one\n"
                            "    review of impl, round 2: score 0.90 (needs 0.80) passed\n"))
            (should (string-search needle text)))
          (should (string-match-p "candidate delta (attempt 4): no answer (agent): [^\n]*delta is offline" text))
          (should (string-match-p "approval a-impl-[0-9]+: pending (RET to answer)\n    review by review, round 2: score 0.90 (needs 0.80) passed\n" text))))
      ;; The inbox shows the review with the approval; `a' approves it and the run fans out.
      (drover-test--open-gate id "approval")
      (with-current-buffer (drover-inbox)
        (should (string-search "    review by review, round 2: score 0.90 (needs 0.80) passed\n    proposal:\n" (buffer-string)))
        (drover-test--inbox-goto "approval")
        (drover-test--press "a"))
      (drover-test-wait "the fan-out to start two children"
        (progn (drover--fetch-run (drover-test--server) id)
               (= 2 (length (plist-get (drover-test--step id "split") :children))))))))

(ert-deftest drover-test-fanout-children-nested-and-opened ()
  "Child runs are nested under their parent, opened from it and back; merges are shown."
  (drover-test-with-workspace
    (let* ((id (drover-test--start-rich))
           (server (drover-test--server))
           (view (drover--run-buffer server id))
           children)
      (drover-test--wait-text view "(RET to answer)\n    review by review")
      (drover--request server "step/approve"
                       (list :runId id :approvalId (plist-get (plist-get (drover-test--step id "impl") :approval) :id)))
      ;; Each child asks before it writes: both wait while the parent waits on them.
      (drover-test--wait-text view "2 child runs: 2 blocked  (RET on one opens it)")
      (setq children (append (plist-get (drover-test--step id "split") :children) nil))
      (should (equal (drover-test--status id) "blocked"))
      ;; The inbox lists the parent's wait on its children as the server does (kind "children"):
      ;; `a' refuses it; RET on it offers the children and opens the one picked.
      (let ((listed (seq-find (lambda (item) (equal (plist-get item :kind) "children"))
                              (plist-get (drover-test--call "inbox/list") :items))))
        (should listed)
        (should (equal children (mapcar (lambda (child) (plist-get child :runId)) (plist-get listed :children)))))
      (with-current-buffer (drover-inbox)
        (drover-test--wait-text (current-buffer) "waiting on 2 child runs: 2 blocked")
        (drover-test--goto-text (concat "Waiting on children  " id "  split"))
        (should (string-match-p "this item is a children, not a"
                                (cadr (should-error (drover-test--press "a") :type 'user-error))))
        (let (offered)
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt table &rest _) (setq offered table) (car children))))
            (drover-test--press "RET"))
          (should (equal offered children))
          (should (equal (buffer-name) (format "*drover run %s*" (car children))))))
      (let ((runs (drover-runs)))
        (drover-test--wait-text runs "2 child runs: 2 blocked")
        (with-current-buffer runs
          (drover-test--goto-text id)
          (should (string-match-p "2 child runs: 2 blocked" (buffer-substring (point) (line-end-position))))
          (dolist (child children)
            (forward-line 1)
            (should (string-match-p (concat "\\`   ↳ " (regexp-quote child) " +child +blocked")
                                    (buffer-substring (point) (line-end-position))))
            (should (equal (tabulated-list-get-id) child)))
          ;; RET on the second child opens it; it names its parent.
          (drover-test--press "RET")
          (should (equal (buffer-name) (format "*drover run %s*" (cadr children))))))
      (let ((second (format "*drover run %s*" (cadr children))))
        (drover-test--wait-text second (format "Parent:   %s (step split)  RET opens it" id))
        (drover-test--wait-text second "(open: RET to answer)")
        (with-current-buffer second
          (drover-test--goto-text "decision d-work-1")
          (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "yes")))
            (drover-test--press "RET")))
        (drover-test--wait-text view "2 child runs: 1 done, 1 blocked")
        ;; RET on the parent line goes back to the parent.
        (with-current-buffer second
          (drover-test--goto-text "Parent:")
          (drover-test--press "RET")
          (should (equal (buffer-name) (buffer-name view)))))
      ;; RET on the first child's line in the parent's view opens it.
      (with-current-buffer view
        (drover-test--goto-text (concat "↳ blocked   " (car children)))
        (drover-test--press "RET")
        (should (equal (buffer-name) (format "*drover run %s*" (car children)))))
      (drover--request server "decision/resolve" (list :runId (car children) :decisionId "d-work-1" :choice "yes"))
      ;; Both merged in order; each child line names the merge commit the server recorded.
      (drover-test-wait "the parent to be done"
        (progn (drover--fetch-run server id) (equal (drover-test--status id) "done")))
      (let ((merges (seq-filter (lambda (e) (equal (plist-get e :type) "child.merged")) (drover-run-events id))))
        (drover-test-wait "every event of the parent"
          (= (length (drover-run-events id)) (plist-get (drover-test--run id) :lastSeq)))
        (setq merges (seq-filter (lambda (e) (equal (plist-get e :type) "child.merged")) (drover-run-events id)))
        (should (equal children (mapcar (lambda (e) (plist-get (plist-get e :data) :childRunId)) merges)))
        (dolist (merge merges)
          (let ((data (plist-get merge :data)))
            (drover-test--wait-text
             view (format "↳ done      %s  %s — merged %s" (plist-get data :childRunId)
                          (if (equal (plist-get data :childRunId) (car children)) "alpha.txt" "beta.txt")
                          (drover--short-sha (plist-get data :commit)))))))
      (drover-test--wait-text view "2 child runs: 2 done"))))

(ert-deftest drover-test-run-view-malformed-verdicts ()
  "The run buffer shows a reviewer's replies that are not a verdict, then the failure."
  (drover-test-with-workspace
    (let* ((id (drover-test--start-rich "malformed"))
           (buffer (drover--run-buffer (drover-test--server) id)))
      (drover-test--wait-text buffer "Failed (agent)")
      (drover-test--wait-text
       buffer (concat "    review attempt 1: not a verdict (the reply is not JSON): Looks fine to me.\n"
                      "    review attempt 2: not a verdict (the reply is not JSON): Looks fine to me.\n")))))

(ert-deftest drover-test-inbox-children-item-and-unknown-kind ()
  "Inbox items of a children kind and of an unknown kind, as a server lists them, are harmless."
  (drover-test-with-workspace
    (let ((drover-mode-was drover-mode)
          (inbox (drover-inbox))
          (server (drover-test--server)))
      (drover-mode 1)
      (unwind-protect
          (progn
            (drover-test--wait-text inbox "No open gates.")
            (drover-test-wait "the inbox to be read" (null (drover--server-inbox-state server)))
            ;; Items as a server with these kinds sends them (the "children" kind is new in issue 19).
            (setf (drover--server-inbox server)
                  (list (list :kind "children" :runId "r-20260101-000000-ppppp" :stepId "split" :id "c-split-1"
                              :since "2026-01-01T00:00:00Z"
                              :children (vector (list :runId "r-20260101-000000-aaaaa" :status "done" :task "alpha.txt")
                                                (list :runId "r-20260101-000000-bbbbb" :status "running")))
                        (list :kind "quorum" :runId "r-20260101-000000-qqqqq" :stepId "vote" :id "q-vote-1"
                              :since "2026-01-01T00:00:00Z")))
            (with-current-buffer inbox
              (drover--inbox-render)
              (let ((text (buffer-string)))
                (should (string-search "Waiting on children  r-20260101-000000-ppppp  split" text))
                (should (string-search "    waiting on 2 child runs: 1 done, 1 running  (RET opens one; nothing to answer)\n      ↳ done      r-20260101-000000-aaaaa  alpha.txt\n      ↳ running   r-20260101-000000-bbbbb  \n" text))
                (should (string-search "Quorum  r-20260101-000000-qqqqq  vote" text))
                (should (string-search "    quorum q-vote-1 (this version of drover.el cannot answer it; o opens the run)" text)))
              ;; Not counted as gates; the approval keys refuse the children item; RET on the unknown kind says why.
              (should (equal (drover-test--mode-line) " Drover"))
              (drover-test--goto-text "Waiting on children")
              (dolist (key '("a" "x" "c" "e" "d"))
                (should (string-match-p "this item is a children, not a"
                                        (cadr (should-error (drover-test--press key) :type 'user-error)))))
              (drover-test--goto-text "Quorum")
              (should (string-search "waits on a quorum item, which drover.el cannot answer"
                                     (cadr (should-error (drover-test--press "RET") :type 'user-error))))
              ;; RET on the children item asks which child to open and opens it.
              (drover-test--goto-text "Waiting on children")
              (let (offered)
                (cl-letf (((symbol-function 'completing-read)
                           (lambda (_prompt table &rest _) (setq offered table) "r-20260101-000000-bbbbb")))
                  (drover-test--press "RET"))
                (should (equal offered '("r-20260101-000000-aaaaa" "r-20260101-000000-bbbbb")))
                (should (equal (buffer-name) "*drover run r-20260101-000000-bbbbb*")))))
        (drover-mode (if drover-mode-was 1 -1))))))

(provide 'drover-test)
;;; drover-test.el ends here
