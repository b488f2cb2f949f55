// GOV.UK Frontend styles its JavaScript enhancements only when this class is present.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
