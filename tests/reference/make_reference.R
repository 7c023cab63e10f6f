# Reference values from R for tests/test_stats_reference.py.
#
# Reads tests/reference/fixtures_input.json (written by make_inputs.py) and writes
# tests/reference/r_reference.json.  Run from the repository root:
#
#   Rscript tests/reference/make_reference.R
#
# Needs R with the 'survival' and 'jsonlite' packages (Debian: r-base-core,
# r-cran-survival, r-cran-jsonlite).  Anything R reports as NA, NaN or +-Inf, and any
# call that fails, is written as JSON null.  Warnings are recorded next to the values.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

input_path <- file.path("tests", "reference", "fixtures_input.json")
output_path <- file.path("tests", "reference", "r_reference.json")
inp <- fromJSON(input_path, simplifyVector = FALSE)

# Non-finite -> NA (written as null).
fin <- function(x) {
  if (is.null(x)) return(NA_real_)
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  x
}

# Evaluate expr; on error return NULL; collect warnings.
capture <- function(expr) {
  warnings <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) {
      warnings <<- c(warnings, paste("error:", conditionMessage(e)))
      NULL
    }),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  list(value = value, warnings = warnings)
}

binary_reference <- function(case) {
  x1 <- case$x1; n1 <- case$n1; x0 <- case$x0; n0 <- case$n0
  out <- list(name = case$name)
  # Clopper-Pearson per arm (binom.test); only defined for n > 0.
  cp <- function(x, n) {
    if (n == 0) return(list(lower = NA, upper = NA))
    ci <- binom.test(x, n)$conf.int
    list(lower = fin(ci[1]), upper = fin(ci[2]))
  }
  out$binom_experimental <- cp(x1, n1)
  out$binom_control <- cp(x0, n0)
  pt <- capture(prop.test(c(x1, x0), c(n1, n0), correct = FALSE))
  out$prop_test <- list(
    statistic = if (is.null(pt$value)) NA else fin(unname(pt$value$statistic)),
    p_value = if (is.null(pt$value)) NA else fin(pt$value$p.value),
    warnings = pt$warnings
  )
  tab <- matrix(c(x1, n1 - x1, x0, n0 - x0), nrow = 2, byrow = TRUE)
  cs <- capture(chisq.test(tab, correct = FALSE))
  out$chisq_test <- list(
    statistic = if (is.null(cs$value)) NA else fin(unname(cs$value$statistic)),
    p_value = if (is.null(cs$value)) NA else fin(cs$value$p.value),
    warnings = cs$warnings
  )
  ft <- capture(fisher.test(tab))
  out$fisher_test <- if (is.null(ft$value)) {
    list(p_value = NA, estimate = NA, conf_low = NA, conf_high = NA, warnings = ft$warnings)
  } else {
    list(
      p_value = fin(ft$value$p.value),
      estimate = fin(unname(ft$value$estimate)),
      conf_low = fin(ft$value$conf.int[1]),
      conf_high = fin(ft$value$conf.int[2]),
      warnings = ft$warnings
    )
  }
  out
}

km_reference <- function(time, event) {
  fit <- survfit(Surv(time, event) ~ 1)  # conf.type = "log", Greenwood (defaults)
  q <- quantile(fit, probs = 0.5)
  tab <- summary(fit)$table
  list(
    n = length(time),
    events = sum(event),
    # I(): keep length-1 vectors as JSON arrays.
    time = I(fin(fit$time)),
    surv = I(fin(fit$surv)),
    lower = I(fin(fit$lower)),
    upper = I(fin(fit$upper)),
    n_risk = I(as.integer(fit$n.risk)),
    median = fin(unname(q$quantile)),
    median_lower = fin(unname(q$lower)),
    median_upper = fin(unname(q$upper)),
    # print.survfit's table: must agree with quantile().
    print_median = fin(unname(tab["median"])),
    print_lower = fin(unname(tab["0.95LCL"])),
    print_upper = fin(unname(tab["0.95UCL"]))
  )
}

# A captured coxph fit as hazard ratio, Wald CI and p (NA when the fit failed).
cox_reference <- function(cx) {
  if (is.null(cx$value) || is.null(coef(cx$value))) {
    return(list(hr = NA, conf_low = NA, conf_high = NA, wald_p = NA, warnings = cx$warnings))
  }
  s <- summary(cx$value)
  ci <- exp(confint(cx$value))
  list(
    hr = fin(unname(exp(coef(cx$value)))),
    conf_low = fin(ci[1, 1]),
    conf_high = fin(ci[1, 2]),
    wald_p = fin(unname(s$coefficients[1, "Pr(>|z|)"])),
    warnings = cx$warnings
  )
}

survival_reference <- function(case) {
  time <- as.numeric(unlist(case$times))
  event <- as.integer(unlist(case$events))
  group <- as.integer(unlist(case$groups))
  out <- list(name = case$name)
  out$km_experimental <- km_reference(time[group == 1], event[group == 1])
  out$km_control <- km_reference(time[group == 0], event[group == 0])
  sd <- capture(survdiff(Surv(time, event) ~ group, rho = 0))
  out$survdiff <- if (is.null(sd$value)) {
    list(chisq = NA, p_value = NA, warnings = sd$warnings)
  } else {
    chisq <- sd$value$chisq
    list(
      chisq = fin(chisq),
      p_value = fin(pchisq(chisq, df = 1, lower.tail = FALSE)),
      warnings = sd$warnings
    )
  }
  out$coxph <- cox_reference(capture(coxph(Surv(time, event) ~ group, ties = "efron")))
  out
}

stratified_reference <- function(case) {
  x1 <- as.numeric(unlist(case$x1)); n1 <- as.numeric(unlist(case$n1))
  x0 <- as.numeric(unlist(case$x0)); n0 <- as.numeric(unlist(case$n0))
  k <- length(x1)
  # [group, response, stratum]: group 1 = experimental, 2 = control.
  arr <- array(0, dim = c(2, 2, k))
  for (i in seq_len(k)) {
    arr[, , i] <- matrix(c(x1[i], n1[i] - x1[i], x0[i], n0[i] - x0[i]), nrow = 2, byrow = TRUE)
  }
  out <- list(name = case$name)
  mh <- capture(mantelhaen.test(arr, correct = FALSE))
  out$mantelhaen <- if (is.null(mh$value)) {
    list(statistic = NA, p_value = NA, warnings = mh$warnings)
  } else {
    list(
      statistic = fin(unname(mh$value$statistic)),
      p_value = fin(mh$value$p.value),
      warnings = mh$warnings
    )
  }
  out
}

stratified_survival_reference <- function(case) {
  time <- as.numeric(unlist(case$times))
  event <- as.integer(unlist(case$events))
  group <- as.integer(unlist(case$groups))
  stratum <- as.character(unlist(case$strata))
  out <- list(name = case$name)
  sd <- capture(survdiff(Surv(time, event) ~ group + strata(stratum)))
  out$survdiff <- if (is.null(sd$value)) {
    list(chisq = NA, p_value = NA, warnings = sd$warnings)
  } else {
    list(
      chisq = fin(sd$value$chisq),
      p_value = fin(pchisq(sd$value$chisq, df = 1, lower.tail = FALSE)),
      warnings = sd$warnings
    )
  }
  out$coxph <- cox_reference(
    capture(coxph(Surv(time, event) ~ group + strata(stratum), ties = "efron"))
  )
  out
}

holm_reference <- function(case) {
  p <- vapply(case$p, function(x) if (is.null(x)) NA_real_ else as.numeric(x), numeric(1))
  list(name = case$name, adjusted = I(fin(p.adjust(p, method = "holm"))))
}

# --- the three-arm dataset (make_three_arm.py): each experimental arm against the control
three_arm_reference <- function() {
  folder <- file.path("tests", "reference", "three_arm")
  ep <- read.csv(file.path(folder, "endpoints.csv"), stringsAsFactors = FALSE)
  subjects <- read.csv(file.path(folder, "data", "subjects.csv"), stringsAsFactors = FALSE)
  ep$stratum <- subjects$stratum[match(ep$subject_id, subjects$subject_id)]
  control <- "DEX"
  experimental <- c("TAC24", "TAC12")
  binary <- list(
    initial_response = list(x = ep$initial_response == 1, keep = rep(TRUE, nrow(ep))),
    initial_complete_response = list(
      x = ep$initial_response_category == "CR", keep = rep(TRUE, nrow(ep))
    ),
    relapse = list(x = ep$relapse %in% 1, keep = ep$initial_response == 1),
    sustained_response_6m = list(x = ep$sustained_response_6m == 1, keep = rep(TRUE, nrow(ep))),
    sustained_complete_response_6m = list(
      x = ep$sustained_response_category == "CR", keep = rep(TRUE, nrow(ep))
    ),
    sustained_response_12m = list(x = ep$sustained_response_12m == 1, keep = rep(TRUE, nrow(ep))),
    response_by_day_7 = list(x = ep$response_by_day_7 == 1, keep = rep(TRUE, nrow(ep)))
  )
  binary_out <- lapply(binary, function(b) {
    by_arm <- lapply(c(experimental, control), function(arm) {
      rows <- ep$arm == arm & b$keep
      x <- sum(b$x[rows]); n <- sum(rows)
      ci <- binom.test(x, n)$conf.int
      list(responders = x, n = n, lower = fin(ci[1]), upper = fin(ci[2]))
    })
    names(by_arm) <- c(experimental, control)
    pairs <- lapply(experimental, function(arm) {
      rows <- ep$arm %in% c(arm, control) & b$keep
      group <- factor(ep$arm[rows] == arm, levels = c(TRUE, FALSE))
      response <- factor(b$x[rows], levels = c(TRUE, FALSE))
      tab <- table(group, response)
      pt <- prop.test(tab, correct = FALSE)
      ft <- fisher.test(tab)
      arr <- table(group, response, ep$stratum[rows])
      mh <- mantelhaen.test(arr, correct = FALSE)
      list(
        p_chisq = fin(pt$p.value),
        p_fisher = fin(ft$p.value),
        odds_ratio = fin(unname(ft$estimate)),
        or_low = fin(ft$conf.int[1]),
        or_high = fin(ft$conf.int[2]),
        p_cmh = fin(mh$p.value)
      )
    })
    names(pairs) <- paste(experimental, "vs", control)
    holm <- function(key) {
      I(fin(p.adjust(vapply(pairs, function(x) x[[key]], numeric(1)), method = "holm")))
    }
    list(by_arm = by_arm, comparisons = pairs,
         holm = list(p_chisq = holm("p_chisq"), p_fisher = holm("p_fisher"),
                     p_cmh = holm("p_cmh")))
  })
  tte <- list(time_to_response = c("ttr_days", "ttr_event"),
              duration_of_response = c("dor_days", "dor_event"))
  tte_out <- lapply(tte, function(columns) {
    rows <- !is.na(ep[[columns[1]]])
    d <- data.frame(time = ep[[columns[1]]][rows], event = ep[[columns[2]]][rows],
                    arm = ep$arm[rows], stratum = ep$stratum[rows])
    by_arm <- lapply(c(experimental, control), function(arm) {
      mine <- d[d$arm == arm, ]
      q <- quantile(survfit(Surv(time, event) ~ 1, data = mine), probs = 0.5)
      list(n = nrow(mine), events = sum(mine$event), median = fin(unname(q$quantile)),
           lower = fin(unname(q$lower)), upper = fin(unname(q$upper)))
    })
    names(by_arm) <- c(experimental, control)
    pairs <- lapply(experimental, function(arm) {
      pair <- d[d$arm %in% c(arm, control), ]
      pair$group <- as.integer(pair$arm == arm)
      sd <- survdiff(Surv(time, event) ~ group, data = pair)
      sds <- survdiff(Surv(time, event) ~ group + strata(stratum), data = pair)
      cx <- coxph(Surv(time, event) ~ group, data = pair, ties = "efron")
      cxs <- coxph(Surv(time, event) ~ group + strata(stratum), data = pair, ties = "efron")
      list(
        p_logrank = fin(pchisq(sd$chisq, 1, lower.tail = FALSE)),
        p_logrank_stratified = fin(pchisq(sds$chisq, 1, lower.tail = FALSE)),
        hr = fin(unname(exp(coef(cx)))),
        hr_low = fin(exp(confint(cx))[1, 1]),
        hr_high = fin(exp(confint(cx))[1, 2]),
        hr_stratified = fin(unname(exp(coef(cxs)))),
        hr_stratified_low = fin(exp(confint(cxs))[1, 1]),
        hr_stratified_high = fin(exp(confint(cxs))[1, 2])
      )
    })
    names(pairs) <- paste(experimental, "vs", control)
    holm <- function(key) {
      I(fin(p.adjust(vapply(pairs, function(x) x[[key]], numeric(1)), method = "holm")))
    }
    list(by_arm = by_arm, comparisons = pairs,
         holm = list(p_logrank = holm("p_logrank"),
                     p_logrank_stratified = holm("p_logrank_stratified")))
  })
  list(binary = binary_out, time_to_event = tte_out)
}

result <- list(
  generated_by = "tests/reference/make_reference.R",
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  binary = lapply(inp$binary, binary_reference),
  survival = lapply(inp$survival, survival_reference),
  stratified = lapply(inp$stratified, stratified_reference),
  stratified_survival = lapply(inp$stratified_survival, stratified_survival_reference),
  holm = lapply(inp$holm, holm_reference),
  three_arm = three_arm_reference()
)

writeLines(
  toJSON(result, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
  output_path
)
