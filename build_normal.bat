@echo off
rem PMS console for Windows: builds dist\PMS_GUI_Application.exe with pms.spec (README: "Windows: build and deploy").
rem build_normal.bat: sites with BMS, PCS and solar DC-DC. build_dcdc_disabled.bat: sites without a solar DC-DC.
rem The two files differ only in the DC-DC flag below. Add --onedir for a one-folder build that starts faster.
setlocal
set PMS_DCDC_DISABLED=0
call "%~dp0scripts\build.bat" %*
exit /b %errorlevel%
