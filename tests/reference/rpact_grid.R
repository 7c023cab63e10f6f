# Reference values from R's rpact for `itptrial design sample-size`.
#
# What it produces: tests/reference/rpact_grid.json, a grid of sample-size
# calculations for two independent proportions (rate difference, normal
# approximation), fixed designs and group-sequential designs with K = 2..5 looks
# (O'Brien-Fleming "OF", Pocock "P", and the Lan-DeMets alpha-spending versions
# "asOF", "asP"), superiority and non-inferiority (thetaH0 = -margin).  For every
# distinct group-sequential design the design-level values (critical values, stage
# levels, alpha spent, and getDesignCharacteristics: drift/shift, inflation factor,
# ASN factors, rejection probabilities) are written separately under "designs", so
# the Jennison-Turnbull recursion can be tested without the rates.
#
# How to run, from the repository root:
#
#   Rscript tests/reference/rpact_grid.R
#
# Needs R with rpact and jsonlite (Debian: r-base-core, r-cran-rpact,
# r-cran-jsonlite).  Written with rpact 3.3.4 (Debian's r-cran-rpact 3.3.4-1),
# jsonlite 1.8.4, R 4.2.2; the versions used are recorded in the JSON header.
# The output is deterministic (no time stamps): running the script twice gives a
# byte-identical file.
#
# The tests read the JSON only; they never need R.
#
# Conventions (also written into the JSON "notes"):
# * rpact's pi1 is the experimental group, pi2 the control group;
#   allocationRatioPlanned = n_experimental / n_control (the spec's --ratio).
# * Spec names are used in each case's "input"; the exact arguments passed to
#   rpact are in "rpact_call".
# * A case that rpact refuses is recorded with "error": "<message>" and no output.
# * R's NA / NaN / Inf (e.g. an effect-scale boundary with no root in (0, 1)) are
#   written as JSON null.
suppressPackageStartupMessages({
  library(rpact)
  library(jsonlite)
})

output_path <- file.path("tests", "reference", "rpact_grid.json")

# rpact typeOfDesign for the spec's --boundary.
boundary_type <- c(obf = "OF", pocock = "P", asof = "asOF", asp = "asP")

# ---------------------------------------------------------------------------
# The grid.  One call of `case()` per case; arguments use the spec's names.
# ---------------------------------------------------------------------------
case <- function(control, experimental, alpha = 0.05, power = 0.8, sided = 2,
                 ratio = 1, margin = NULL, looks = 1, boundary = NULL,
                 information_rates = NULL, note = NULL) {
  list(control = control, experimental = experimental, alpha = alpha,
       power = power, sided = sided, ratio = ratio, margin = margin,
       looks = looks, boundary = boundary,
       information_rates = information_rates, note = note)
}

cases <- list(
  # --- fixed designs -------------------------------------------------------
  case(0.411, 0.646, note = "TARGET 020 result, default CLI options"),
  case(0.411, 0.646, power = 0.9),
  case(0.411, 0.646, alpha = 0.025, sided = 1),
  case(0.3, 0.5, ratio = 2),
  case(0.3, 0.5, ratio = 0.5),
  case(0.3, 0.5, alpha = 0.05, sided = 1, power = 0.9),
  case(0.5, 0.65, power = 0.9),
  case(0.5, 0.65, alpha = 0.025, sided = 1, ratio = 0.5),
  case(0.2, 0.1, note = "experimental rate lower than control"),
  case(0.2, 0.1, power = 0.9, ratio = 2),
  case(0.2, 0.1, alpha = 0.025, sided = 1, note = "experimental lower, one-sided (rpact tests the lower direction)"),
  case(0.6, 0.75, alpha = 0.01, power = 0.9),
  case(0.6, 0.75, alpha = 0.025, sided = 1, ratio = 2),
  case(0.6, 0.6, alpha = 0.025, sided = 1, margin = 0.1),
  case(0.5, 0.5, alpha = 0.05, sided = 1, power = 0.9, ratio = 2, margin = 0.15),
  case(0.411, 0.646, alpha = 0.025, sided = 1, margin = 0.1),
  case(0.3, 0.25, alpha = 0.025, sided = 1, ratio = 0.5, margin = 0.15)
)

# Group-sequential, set A: two-sided alpha 0.05, power 0.8, ratio 1, TARGET rates;
# every boundary type with K = 2..5.
for (b in names(boundary_type)) for (k in 2:5) {
  cases[[length(cases) + 1]] <- case(0.411, 0.646, looks = k, boundary = b)
}

# Group-sequential, set B: one-sided alpha 0.025, power 0.9; the rates and the
# allocation ratio rotate with K.
rates_b <- list(c(0.3, 0.5), c(0.5, 0.65), c(0.2, 0.1), c(0.6, 0.75))
ratio_b <- c(1, 2, 0.5, 1)
for (b in names(boundary_type)) for (i in 1:4) {
  cases[[length(cases) + 1]] <- case(rates_b[[i]][1], rates_b[[i]][2],
                                     alpha = 0.025, power = 0.9, sided = 1,
                                     ratio = ratio_b[i], looks = i + 1, boundary = b)
}

cases <- c(cases, list(
  # Other alpha / sided / ratio combinations with looks.
  case(0.411, 0.646, alpha = 0.05, sided = 1, looks = 3, boundary = "asof"),
  case(0.3, 0.5, ratio = 2, looks = 3, boundary = "obf"),
  case(0.2, 0.1, power = 0.9, ratio = 0.5, looks = 4, boundary = "asof",
       note = "experimental lower, two-sided"),
  case(0.5, 0.65, power = 0.9, ratio = 2, looks = 2, boundary = "asp"),
  # Unequally spaced information rates.
  case(0.411, 0.646, looks = 3, boundary = "asof", information_rates = c(0.3, 0.7, 1)),
  case(0.3, 0.5, alpha = 0.025, sided = 1, ratio = 2, looks = 3, boundary = "asp",
       information_rates = c(0.2, 0.5, 1)),
  case(0.5, 0.65, looks = 3, boundary = "obf", information_rates = c(0.4, 0.7, 1)),
  # Non-inferiority with looks (one-sided, thetaH0 = -margin).
  case(0.6, 0.6, alpha = 0.025, sided = 1, margin = 0.1, looks = 3, boundary = "asof"),
  case(0.5, 0.5, alpha = 0.05, sided = 1, power = 0.9, ratio = 2, margin = 0.15,
       looks = 2, boundary = "obf"),
  case(0.411, 0.646, alpha = 0.025, sided = 1, margin = 0.1, looks = 4, boundary = "pocock"),
  case(0.3, 0.25, alpha = 0.025, sided = 1, ratio = 0.5, margin = 0.15, looks = 3,
       boundary = "asp"),
  case(0.6, 0.6, alpha = 0.025, sided = 1, margin = 0.1, looks = 3, boundary = "asof",
       information_rates = c(0.3, 0.7, 1)),
  # rpact refuses a two-sided test with thetaH0 != 0.  The spec makes --margin
  # one-sided, so itptrial never asks this of rpact; recorded to document it.
  case(0.6, 0.6, alpha = 0.05, sided = 2, margin = 0.1,
       note = "documents an rpact refusal: the spec makes --margin one-sided"),
  case(0.6, 0.6, alpha = 0.05, sided = 2, margin = 0.1, looks = 3, boundary = "asof",
       note = "documents an rpact refusal: the spec makes --margin one-sided")
))

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Numeric vector with NA/NaN/Inf -> NA (written as null); NULL / empty -> NULL.
num <- function(x) {
  if (is.null(x) || length(x) == 0) return(NULL)
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  x
}
# Per-stage vector, always a JSON array (also when of length 1).
arr <- function(x) {
  x <- num(x)
  if (is.null(x)) return(NULL)
  I(x)
}
# Scalar (JSON number or null).
sc <- function(x) {
  x <- num(x)
  if (is.null(x)) return(NULL)
  stopifnot(length(x) == 1)
  x
}
# Drop NULL entries but keep explicit JSON nulls written as NA.
compact <- function(l) l[!vapply(l, is.null, logical(1))]

fmt <- function(x) {
  vapply(x, function(v) format(v, scientific = FALSE, trim = TRUE, digits = 15), character(1))
}

case_id <- function(cs) {
  id <- if (cs$looks == 1) "fixed" else sprintf("k%d_%s", cs$looks, cs$boundary)
  id <- sprintf("%s_s%d_a%s_pw%s_r%s_c%s_e%s", id, cs$sided, fmt(cs$alpha),
                fmt(cs$power), fmt(cs$ratio), fmt(cs$control), fmt(cs$experimental))
  if (!is.null(cs$margin)) id <- paste0(id, "_ni", fmt(cs$margin))
  if (!is.null(cs$information_rates)) {
    id <- paste0(id, "_ir", paste(fmt(cs$information_rates), collapse = "-"))
  }
  id
}

design_id <- function(args) {
  id <- sprintf("gsd_k%d_%s_s%d_a%s_b%s", args$kMax, args$typeOfDesign, args$sided,
                fmt(args$alpha), fmt(args$beta))
  if (!is.null(args$informationRates)) {
    id <- paste0(id, "_ir", paste(fmt(args$informationRates), collapse = "-"))
  }
  id
}

# Run `expr`, collecting warnings; returns list(value, error, warnings).
capture <- function(expr) {
  warnings <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "rpact_error")),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(value, "rpact_error")) {
    return(list(value = NULL, error = unclass(value), warnings = warnings))
  }
  list(value = value, error = NULL, warnings = warnings)
}

# Design-level record of a group-sequential design (independent of the rates).
design_record <- function(args, design) {
  dc <- getDesignCharacteristics(design)
  list(
    rpact_call = c(list(fun = "getDesignGroupSequential"), args),
    kMax = design$kMax,
    alpha = design$alpha,
    beta = design$beta,
    sided = design$sided,
    typeOfDesign = design$typeOfDesign,
    tolerance = design$tolerance,
    information_rates = arr(design$informationRates),
    critical_values = arr(design$criticalValues),
    stage_levels = arr(design$stageLevels),
    alpha_spent = arr(design$alphaSpent),
    characteristics = list(
      nFixed = sc(dc$nFixed),
      shift = sc(dc$shift),
      inflationFactor = sc(dc$inflationFactor),
      information = arr(dc$information),
      power = arr(dc$power),
      rejectionProbabilities = arr(dc$rejectionProbabilities),
      averageSampleNumber1 = sc(dc$averageSampleNumber1),
      averageSampleNumber01 = sc(dc$averageSampleNumber01),
      averageSampleNumber0 = sc(dc$averageSampleNumber0)
    )
  )
}

designs <- list()

# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------
run_case <- function(cs) {
  theta_h0 <- if (is.null(cs$margin)) 0 else -cs$margin
  beta <- 1 - cs$power
  input <- list(
    control = cs$control, experimental = cs$experimental, alpha = cs$alpha,
    power = cs$power, sided = cs$sided, ratio = cs$ratio,
    margin = if (is.null(cs$margin)) NA else cs$margin,
    looks = cs$looks,
    boundary = if (is.null(cs$boundary)) NA else cs$boundary,
    information_rates = if (is.null(cs$information_rates)) NA else I(cs$information_rates)
  )
  rates_args <- list(pi1 = cs$experimental, pi2 = cs$control,
                     allocationRatioPlanned = cs$ratio, thetaH0 = theta_h0)
  rec <- list(id = case_id(cs), note = cs$note, input = input)

  if (cs$looks == 1) {
    call_args <- c(list(alpha = cs$alpha, beta = beta, sided = cs$sided), rates_args)
    rec$rpact_call <- list(getSampleSizeRates = call_args)
    res <- capture(do.call(getSampleSizeRates, call_args))
  } else {
    design_args <- list(kMax = cs$looks, alpha = cs$alpha, beta = beta,
                        sided = cs$sided, typeOfDesign = unname(boundary_type[cs$boundary]))
    if (!is.null(cs$information_rates)) design_args$informationRates <- cs$information_rates
    rec$rpact_call <- list(getDesignGroupSequential = design_args,
                           getSampleSizeRates = c(list(design = "<the design above>"), rates_args))
    did <- design_id(design_args)
    res <- capture(do.call(getDesignGroupSequential, design_args))
    if (is.null(res$error)) {
      design <- res$value
      rec$design_id <- did
      if (is.null(designs[[did]])) designs[[did]] <<- design_record(design_args, design)
      res <- capture(do.call(getSampleSizeRates, c(list(design = design), rates_args)))
    }
  }
  if (length(res$warnings) > 0) rec$warnings <- I(res$warnings)
  if (!is.null(res$error)) {
    rec$error <- res$error
    return(compact(rec))
  }
  s <- res$value
  k <- cs$looks
  last <- function(x) as.numeric(x)[length(x)]
  out <- list(
    n_total_exact = sc(if (k == 1) s$nFixed else s$maxNumberOfSubjects),
    n_experimental_exact = sc(if (k == 1) s$nFixed1 else last(s$numberOfSubjects1)),
    n_control_exact = sc(if (k == 1) s$nFixed2 else last(s$numberOfSubjects2)),
    direction_upper = s$directionUpper,
    critical_values = arr(s$.design$criticalValues),
    critical_values_p = arr(s$criticalValuesPValueScale),
    stage_levels = arr(s$.design$stageLevels),
    effect_scale = arr(s$criticalValuesEffectScale),
    effect_scale_upper = arr(s$criticalValuesEffectScaleUpper),
    effect_scale_lower = arr(s$criticalValuesEffectScaleLower)
  )
  if (k > 1) {
    out <- c(out, list(
      information_rates = arr(s$informationRates),
      alpha_spent = arr(s$.design$alphaSpent),
      reject_per_stage = arr(s$rejectPerStage),
      early_stop = sc(s$earlyStop),
      expected_n_h0 = sc(s$expectedNumberOfSubjectsH0),
      expected_n_h01 = sc(s$expectedNumberOfSubjectsH01),
      expected_n_h1 = sc(s$expectedNumberOfSubjectsH1),
      max_n = sc(s$maxNumberOfSubjects),
      number_of_subjects = arr(s$numberOfSubjects),
      number_of_subjects_experimental = arr(s$numberOfSubjects1),
      number_of_subjects_control = arr(s$numberOfSubjects2),
      n_fixed = sc(s$nFixed),
      n_fixed_experimental = sc(s$nFixed1),
      n_fixed_control = sc(s$nFixed2)
    ))
  }
  rec$output <- compact(out)
  compact(rec)
}

results <- lapply(cases, run_case)
ids <- vapply(results, function(r) r$id, character(1))
if (anyDuplicated(ids)) stop("duplicate case ids: ", paste(ids[duplicated(ids)], collapse = ", "))
n_error <- sum(vapply(results, function(r) !is.null(r$error), logical(1)))
n_ok <- length(results) - n_error
if (n_ok < 40) stop("fewer than 40 successful cases: ", n_ok)

notes <- c(
  "pi1 (rpact) = experimental rate, pi2 = control rate; allocationRatioPlanned = n_experimental/n_control = spec --ratio; thetaH0 = -margin (0 without margin).",
  "Sample sizes are unrounded (continuous); rpact does not ceil per stage. numberOfSubjects (cumulative per stage) = maxNumberOfSubjects * information rate; per arm = total * r/(1+r) (experimental) and total/(1+r) (control).",
  "Fixed: nFixed1 = (z_{1-alpha/sided} * sqrt(ml1(1-ml1) + ml2(1-ml2) r) + z_{1-beta} * sqrt(pi1(1-pi1) + pi2(1-pi2) r))^2 / (pi1 - pi2 - thetaH0)^2, nFixed2 = nFixed1/r, nFixed = nFixed1 + nFixed2; ml1, ml2 are the Farrington-Manning restricted MLEs under pi1 - pi2 = thetaH0 (for thetaH0 = 0 both equal the pooled rate (r*pi1 + pi2)/(1 + r)).",
  "Group-sequential: maxNumberOfSubjects = nFixed (the rates formula above) * inflationFactor, inflationFactor = shift / (z_{1-alpha/sided} + z_{1-beta})^2, where the drift 'shift' is found by uniroot (tol = design tolerance 1e-8) so that the upper-boundary crossing probability summed over stages equals 1 - beta (for sided = 2 the lower-boundary crossing is NOT counted: twoSidedPower = FALSE). expected_n_h0/h01/h1 = averageSampleNumber0/01/1 * nFixed, with drift 0, shift/2 (sqrt scale: half the drift) and shift.",
  "Two-sided designs are symmetric: alpha/2 per side. design alphaSpent is the cumulative two-sided alpha; stageLevels are one-sided nominal levels (1 - pnorm(criticalValues)); criticalValuesPValueScale is two-sided (= 2 * stageLevels) for sided = 2 and equals stageLevels for sided = 1. Both are recorded as rpact returns them.",
  "rpact root-finding tolerance 1e-8: alpha_spent at the final look can be 0.04999999 rather than 0.05, and critical values, shift and the effect-scale roots carry errors of order 1e-8 (absolute).",
  "reject_per_stage (H1) = per-stage probability of crossing the upper (efficacy, direction of the alternative) boundary under the planned rates; early_stop = sum(reject_per_stage[1..K-1]) (no futility bounds here). For sided = 2 the expected sample numbers DO count stopping at the lower boundary, but reject_per_stage / early_stop do not.",
  "Effect scale (rate difference pi1 - pi2 at the boundary): for each stage, the pi1 in (0, 1) solving (pi1 - pi2 - thetaH0) / sqrt(ml1(1-ml1)/n1 + ml2(1-ml2)/n2) = +-criticalValue (ml1, ml2 Farrington-Manning restricted MLEs at this pi1 and the planned pi2; n1, n2 the cumulative per-arm numbers at the stage), found by uniroot(tol = sqrt(.Machine$double.eps)), minus pi2. The sign is +criticalValue when direction_upper (pi1 - pi2 > thetaH0), else -criticalValue. null where no root in (0, 1). For sided = 1 rpact gives criticalValuesEffectScale (effect_scale); for sided = 2 effect_scale_upper/effect_scale_lower (sorted so lower < upper).",
  "rpact refuses sided = 2 with thetaH0 != 0 ('two-sided case is implemented only for superiority testing'); the spec makes --margin one-sided, so such cases are recorded only as errors."
)

out <- list(
  generator = "tests/reference/rpact_grid.R",
  R_version = R.version.string,
  rpact_version = as.character(packageVersion("rpact")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  defaults = list(normalApproximation = TRUE, riskRatio = FALSE, groups = 2,
                  bindingFutility = FALSE, futilityBounds = "none",
                  twoSidedPower = FALSE),
  notes = notes,
  n_cases = length(results),
  n_succeeded = n_ok,
  n_errored = n_error,
  designs = designs[order(names(designs))],
  cases = results
)

json <- toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null",
               null = "null")
writeLines(json, output_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases (%d succeeded, %d errored), %d designs\n",
            output_path, length(results), n_ok, n_error, length(designs)))
