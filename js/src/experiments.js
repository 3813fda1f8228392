// Pure helpers of the experiment panels: which result to paint (the stamps), and a run's status in words. The
// kernel side is cnnviz_widget/experiment_panels.py (its docstring documents the traits).

const ACTIVE = new Set(["queued", "running", "cancelling"]);

/**
 * Whether a run (an entry of the `jobs` trait) is still under way.
 * @param {{state?: string}|null|undefined} job
 */
export function isActive(job) {
  return !!job && ACTIVE.has(job.state ?? "");
}

/**
 * Whether an experiment's result (stamped `request.id`) should be painted: not older than what is painted already,
 * and not superseded by a newer run that is still under way (then what is painted stays, dimmed, until the newer
 * answer arrives). A newer run that failed or was cancelled leaves the result it could not replace.
 * @param {{id?: number}|null|undefined} request  the result's stamp
 * @param {{id?: number, state?: string}|null|undefined} job  the experiment's latest run
 * @param {number} [paintedId]  the stamp of what this view painted last (0: nothing)
 */
export function experimentAnswers(request, job, paintedId = 0) {
  if (!request || typeof request.id !== "number" || request.id < paintedId) return false;
  if (!job || job.id === request.id) return true;
  return !(isActive(job) && (job.id ?? 0) > request.id);
}

/**
 * Whether a synthesised image (stamped `synthesis_result.request`) belongs to the selected unit of the model shown.
 * @param {{model?: string, layer?: string, channel?: number}|null|undefined} request
 * @param {{layer: string, channel: number}} selection
 * @param {string|null|undefined} model  `model_info.name`
 */
export function synthesisAnswers(request, selection, model) {
  return !!request && request.layer === selection.layer && request.channel === selection.channel
    && request.model === model;
}

/**
 * A run's status for people, and whether its progress bar and cancel button show.
 * @param {string} what  e.g. "occlusion"
 * @param {any} job
 * @returns {{text: string, running: boolean}}
 */
export function jobText(what, job) {
  if (!job?.state) return { text: "", running: false };
  const progress = job.total ? ` ${job.done} of ${job.total}` : "";
  switch (job.state) {
    case "queued":
      return { text: `${what}: waiting for the run before it`, running: true };
    case "running":
      return { text: `${what}:${progress || " starting"}`, running: true };
    case "cancelling":
      return { text: `${what}: cancelling…`, running: true };
    case "cancelled":
      return { text: `${what} cancelled${job.total ? ` after${progress}` : ""}`, running: false };
    case "failed":
      return { text: `${what} failed: ${job.message ?? ""}`, running: false };
    default:
      return { text: "", running: false };
  }
}

/**
 * The experiment whose run started last, among `kinds` (for the panel tabs to follow what the user just ran).
 * @param {Record<string, {id: number}>|null|undefined} jobs
 * @param {string[]} kinds
 * @returns {string|null}
 */
export function newestKind(jobs, kinds) {
  let best = null;
  let id = -1;
  for (const kind of kinds) {
    const job = jobs?.[kind];
    if (job && job.id > id) {
      best = kind;
      id = job.id;
    }
  }
  return best;
}
